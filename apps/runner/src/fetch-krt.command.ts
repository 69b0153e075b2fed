import { baseEnv, loadEnvOrExit, urlEnv, workloadEnv } from '@libs/config';
import { connectNats } from '@libs/messaging';
import { fetchKrt, installDependenciesInPlace } from '@libs/orchestrator';
import { z } from 'zod';

const fetchKrtEnvSchema = z.object({
  KRE_PREFIX: baseEnv.KRE_PREFIX,
  KRT_NATS_SERVER: workloadEnv.KRT_NATS_SERVER,
  KRT_NATS_CREDS: workloadEnv.KRT_NATS_CREDS,
  KRT_NATS_INBOX_PREFIX: workloadEnv.KRT_NATS_INBOX_PREFIX,
  /** sha256 (hex) of the KRT copy the deployer stored: another archive is refused. */
  KRT_ARCHIVE_SHA256: z
    .string({ error: 'is required' })
    .regex(/^[0-9a-f]{64}$/, { error: 'must be a sha256 in hex' }),
  /** Object store of the runtime's prepared KRTs (`<p>_<rt>_krt`). */
  KRT_KRT_BUCKET: z.string({ error: 'is required' }).min(1),
  KRT_VERSION: z.string({ error: 'is required' }).min(1),
  KRT_BASE_PATH: z.string({ error: 'is required' }).min(1),
  /**
   * Set where the fetch step itself installs the KRT's declared dependencies (Kubernetes: the
   * init container, in the runtime's namespace): the registry npm uses.
   */
  KRT_NPM_REGISTRY: urlEnv(['https', 'http']).optional(),
  /** npm's cache while installing (a scratch folder of the pod). */
  KRT_NPM_CACHE: z.string().min(1).default('/tmp/npm-cache'),
  KRT_NPM_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(600),
});

/**
 * `runner fetch-krt`: the fetch step of every workload (the local driver runs it before a
 * version starts; Kubernetes as the init container). Exit 0 when the KRT is in place.
 */
export async function fetchKrtCommand(): Promise<number> {
  const env = loadEnvOrExit('runner fetch-krt', fetchKrtEnvSchema);
  const nc = await connectNats({
    url: env.KRT_NATS_SERVER,
    credentials: env.KRT_NATS_CREDS,
    inboxPrefix: env.KRT_NATS_INBOX_PREFIX,
    name: `fetch-krt-${env.KRT_VERSION}`,
  });
  try {
    const result = await fetchKrt(nc, {
      bucket: env.KRT_KRT_BUCKET,
      key: env.KRT_VERSION,
      dest: env.KRT_BASE_PATH,
      prefix: env.KRE_PREFIX,
      sha256: env.KRT_ARCHIVE_SHA256,
    });
    process.stdout.write(`fetch-krt: ${env.KRT_VERSION} ${result} at ${env.KRT_BASE_PATH}\n`);
    if (env.KRT_NPM_REGISTRY) {
      const installed = await installDependenciesInPlace(env.KRT_BASE_PATH, {
        registry: env.KRT_NPM_REGISTRY,
        cacheDir: env.KRT_NPM_CACHE,
        timeoutMs: env.KRT_NPM_TIMEOUT_SECONDS * 1_000,
      });
      for (const folder of installed)
        process.stdout.write(`fetch-krt: installed the dependencies of ${folder}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`fetch-krt: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await nc.close();
  }
}
