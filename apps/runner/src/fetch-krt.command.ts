import { baseEnv, loadEnvOrExit } from '@libs/config';
import { connectNats } from '@libs/messaging';
import { fetchKrt } from '@libs/orchestrator';
import { z } from 'zod';

const fetchKrtEnvSchema = z.object({
  KRE_PREFIX: baseEnv.KRE_PREFIX,
  KRT_NATS_SERVER: z.string({ error: 'is required' }).min(1),
  /** Object store of the runtime's prepared KRTs (`<p>_<rt>_krt`). */
  KRT_KRT_BUCKET: z.string({ error: 'is required' }).min(1),
  KRT_VERSION: z.string({ error: 'is required' }).min(1),
  KRT_BASE_PATH: z.string({ error: 'is required' }).min(1),
});

/**
 * `runner fetch-krt`: the fetch step of every workload (the local driver runs it before a
 * version starts; Kubernetes as the init container). Exit 0 when the KRT is in place.
 */
export async function fetchKrtCommand(): Promise<number> {
  const env = loadEnvOrExit('runner fetch-krt', fetchKrtEnvSchema);
  const nc = await connectNats({ url: env.KRT_NATS_SERVER, name: `fetch-krt-${env.KRT_VERSION}` });
  try {
    const result = await fetchKrt(nc, {
      bucket: env.KRT_KRT_BUCKET,
      key: env.KRT_VERSION,
      dest: env.KRT_BASE_PATH,
      prefix: env.KRE_PREFIX,
    });
    process.stdout.write(`fetch-krt: ${env.KRT_VERSION} ${result} at ${env.KRT_BASE_PATH}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`fetch-krt: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await nc.close();
  }
}
