import { InvalidEnvError, loadEnv } from '@libs/config';
import { describe, expect, it } from 'vitest';
import { runnerEnvSchema } from './runner.env.js';

const BASE = {
  NATS_URL: 'nats://x:4222',
  KRT_RUNTIME_ID: 'demo',
  KRT_VERSION: 'v1',
  KRT_VERSION_ID: 'demo:v1',
  KRT_NATS_SERVER: 'nats://x:4222',
  KRT_NATS_CREDS: '/kre/nats/nats.creds',
  KRT_NATS_INBOX_PREFIX: '_INBOX_kre_demo_v1',
  KRT_BASE_PATH: '/krt',
  KRT_HEALTH_PORT: '8090',
  KRT_NATS_OBS_PREFIX: 'kre.demo.obs',
  KRT_NATS_DATA_PREFIX: 'kre.demo.data',
  KRT_WORKFLOW_NAME: 'wf',
  KRT_NODE_NAME: 'ETL',
  KRT_NODE_ID: 'etl',
  KRT_HANDLER_PATH: 'src/etl.js',
  KRT_NATS_STREAM: 'KRE_demo_v1_wf',
  KRT_NATS_INPUTS: 'kre.demo.wf.v1.wf.entrypoint=etl_entrypoint',
  KRT_NATS_OUTPUT: 'kre.demo.wf.v1.wf.etl',
};

const problems = (source: Record<string, string>) => {
  try {
    loadEnv('runner', runnerEnvSchema, source);
  } catch (error) {
    if (error instanceof InvalidEnvError) return error.problems;
    throw error;
  }
  return [];
};

describe('the runner env: batching', () => {
  it('reads the KRT batch, and leaves a node without it unbatched', () => {
    const env = loadEnv('runner', runnerEnvSchema, {
      ...BASE,
      KRT_BATCH_MAX_SIZE: '32',
      KRT_BATCH_MAX_LATENCY_MS: '0',
    });
    expect([env.KRT_BATCH_MAX_SIZE, env.KRT_BATCH_MAX_LATENCY_MS]).toEqual([32, 0]);
    const plain = loadEnv('runner', runnerEnvSchema, BASE);
    expect([plain.KRT_BATCH_MAX_SIZE, plain.KRT_BATCH_MAX_LATENCY_MS]).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('names a value out of bounds, and one variable without the other', () => {
    expect(problems({ ...BASE, KRT_BATCH_MAX_SIZE: '0', KRT_BATCH_MAX_LATENCY_MS: '1' })).toEqual([
      expect.stringMatching(/^KRT_BATCH_MAX_SIZE: /),
    ]);
    expect(problems({ ...BASE, KRT_BATCH_MAX_SIZE: '4' })).toEqual([
      'KRT_BATCH_MAX_LATENCY_MS: KRT_BATCH_MAX_SIZE and KRT_BATCH_MAX_LATENCY_MS are set together (the KRT batch)',
    ]);
  });
});
