import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { baseEnv, mongoEnv, natsEnv, redisEnv } from './env.fragments.js';
import { InvalidEnvError, loadEnv } from './load-env.js';
import { runnerWorkloadEnv } from './workload.env.js';

const schema = z.object({ ...baseEnv, ...mongoEnv, ...redisEnv, ...natsEnv });

describe(loadEnv.name, () => {
  it('parses a valid environment with defaults', () => {
    const env = loadEnv('app', schema, {
      MONGO_URL: 'mongodb://127.0.0.1:27017',
      REDIS_URL: 'redis://127.0.0.1:6379',
      NATS_URL: 'nats://127.0.0.1:4222',
      NATS_CREDS: '/run/kre/app.creds',
    });
    expect(env).toMatchObject({ KRE_PREFIX: 'kre', NODE_ENV: 'production', LOG_FORMAT: 'text' });
  });

  it('runs in production unless NODE_ENV says otherwise (development is chosen, never assumed)', () => {
    const urls = {
      MONGO_URL: 'mongodb://127.0.0.1:27017',
      REDIS_URL: 'redis://127.0.0.1:6379',
      NATS_URL: 'nats://127.0.0.1:4222',
      NATS_CREDS: '/run/kre/app.creds',
    };
    expect(loadEnv('app', schema, urls).NODE_ENV).toBe('production');
    expect(loadEnv('app', schema, { ...urls, NODE_ENV: 'development' }).NODE_ENV).toBe(
      'development',
    );
    expect(loadEnv('app', schema, { ...urls, NODE_ENV: 'test' }).NODE_ENV).toBe('test');
  });

  it('lists every problem at once, by variable', () => {
    let error: unknown;
    try {
      loadEnv('app', schema, { MONGO_URL: 'postgres://x', KRE_PREFIX: 'a--b' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEnvError);
    expect((error as InvalidEnvError).problems).toEqual([
      'KRE_PREFIX: must not contain "--"',
      'MONGO_URL: must be a URL with scheme mongodb:// or mongodb+srv://',
      'REDIS_URL: is required',
      'NATS_URL: is required',
      "NATS_CREDS: is required (the path of this app's NATS .creds file)",
    ]);
  });

  it('parses the runner workload env (subject=consumer pairs, booleans)', () => {
    const env = loadEnv('runner', z.object(runnerWorkloadEnv), {
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
      KRT_NATS_INPUTS:
        'kre.demo.wf.v1.wf.entrypoint=etl_entrypoint, kre.demo.wf.v1.wf.a.odd=etl_a_odd',
      KRT_NATS_OUTPUT: 'kre.demo.wf.v1.wf.etl',
      KRT_IS_EXITPOINT: 'true',
    });
    expect(env.KRT_HEALTH_PORT).toBe(8090);
    expect(env.KRT_IS_EXITPOINT).toBe(true);
    expect(env.KRT_NATS_INPUTS).toEqual([
      { subject: 'kre.demo.wf.v1.wf.entrypoint', consumer: 'etl_entrypoint' },
      { subject: 'kre.demo.wf.v1.wf.a.odd', consumer: 'etl_a_odd' },
    ]);
  });
});
