import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runnerEnvJsonSchema } from './workload.env.js';

/** The Python runner's copy of the contract (it validates its env with it). */
const CHECKED_IN = fileURLToPath(
  new URL('../../../runners/python/src/kre_runner/workload_env.schema.json', import.meta.url),
);

describe('the runner env contract shared with the Python runner', () => {
  it('is the checked-in JSON Schema (regenerate: KRE_WRITE_SCHEMA=1 npx vitest run libs/config/src/workload-env.schema.spec.ts)', () => {
    const generated = `${JSON.stringify(runnerEnvJsonSchema(), null, 2)}\n`;
    if (process.env.KRE_WRITE_SCHEMA === '1') writeFileSync(CHECKED_IN, generated);
    expect(readFileSync(CHECKED_IN, 'utf8')).toBe(generated);
  });

  it('requires what every runner needs and leaves the driver its paths and ports', () => {
    const schema = runnerEnvJsonSchema() as { required: string[] };
    expect(schema.required).toEqual(
      expect.arrayContaining([
        'KRT_NATS_SERVER',
        'KRT_NATS_CREDS',
        'KRT_NATS_INBOX_PREFIX',
        'KRT_NATS_STREAM',
        'KRT_NATS_INPUTS',
        'KRT_HANDLER_PATH',
        'KRT_BASE_PATH',
        'KRT_HEALTH_PORT',
      ]),
    );
  });
});
