import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, openAsBlob, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Packs a copy of `example` (a folder of the repository) as version `version`, under `work`;
 * `change` edits the copy first (a slower handler, padding). Returns the archive's path.
 */
export function packExample(
  work: string,
  version: string,
  {
    example = 'examples/greeter',
    change,
  }: { example?: string; change?: (dir: string) => void } = {},
): string {
  const dir = join(work, version);
  cpSync(join(root, example), dir, { recursive: true });
  const manifest = join(dir, 'kre.yaml');
  writeFileSync(
    manifest,
    readFileSync(manifest, 'utf8').replace(/^version: .*$/m, `version: ${version}`),
  );
  change?.(dir);
  return packDir(work, version, dir);
}

/** Packs the KRT folder `dir` with `kre krt pack` as `<work>/<version>.krt`. */
export function packDir(work: string, version: string, dir: string): string {
  const out = join(work, `${version}.krt`);
  execFileSync(process.execPath, [join(root, 'bin/kre.js'), 'krt', 'pack', dir, '-o', out], {
    stdio: 'ignore',
  });
  return out;
}

/** Uploads a KRT archive to the runtime `bench` (`POST /api/v1/runtimes/bench/versions`). */
export async function uploadKrt(
  api: string,
  auth: Record<string, string>,
  file: string,
): Promise<void> {
  const form = new FormData();
  form.append('file', await openAsBlob(file), 'version.krt');
  const response = await fetch(`${api}/api/v1/runtimes/bench/versions`, {
    method: 'POST',
    headers: auth,
    body: form,
  });
  if (response.status !== 201)
    throw new Error(`upload: ${response.status} ${await response.text()}`);
}

/** The admin every bench signs in as. */
export const BENCH_ADMIN = 'admin@bench.test';

/**
 * The env the benches start our apps with, as in production (JSON logs, warnings only), on the
 * bench's private services; each bench adds the apps' ports.
 */
export function benchAppEnv(serviceUrls: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...serviceUrls,
    KRE_PREFIX: 'bench',
    NODE_ENV: 'production',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_EMAIL: BENCH_ADMIN,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `url` answers 2xx (an app's `/livez`); throws after about 30 s. */
export async function waitLive(url: string): Promise<void> {
  for (let i = 0; ; i++) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (i > 300) throw new Error(`${url} did not answer`);
    await sleep(100);
  }
}

/**
 * For the benches: signs `email` in through the mail (Mailpit) and creates an API token, as a
 * person would. Returns the `authorization` header. Plain TypeScript that Node runs directly.
 */
export async function benchApiToken(
  api: string,
  mailpitUrl: string,
  email: string,
): Promise<{ authorization: string }> {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  await post('/api/v1/auth/signin', { email });
  let link = '';
  for (let i = 0; !link; i++) {
    if (i > 100) throw new Error(`no sign-in mail for ${email}`);
    const { messages } = (await (
      await fetch(`${mailpitUrl}/api/v1/search?query=to:${email}`)
    ).json()) as { messages: { ID: string }[] };
    if (messages.length) {
      const { Text } = (await (
        await fetch(`${mailpitUrl}/api/v1/message/${messages[0].ID}`)
      ).json()) as { Text: string };
      link = /#([A-Za-z0-9_-]{43})/.exec(Text)?.[1] ?? '';
    } else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const cookie = (await post('/api/v1/auth/signin/verify', { token: link })).headers
    .getSetCookie()[0]
    .split(';')[0];
  const body = (await (
    await post(
      '/graphql',
      {
        query: 'mutation { generateApiToken(input: {name: "bench", expiresInDays: 1}) { token } }',
      },
      { cookie },
    )
  ).json()) as { data?: { generateApiToken: { token: string } }; errors?: unknown };
  if (!body.data) throw new Error(`generateApiToken: ${JSON.stringify(body.errors)}`);
  return { authorization: `Bearer ${body.data.generateApiToken.token}` };
}

/**
 * The processes a bench's deployer started: the local driver marks each workload program with
 * `KRE_WORKLOAD_OWNER=<prefix>@<state dir>` in its environment.
 */
export function workloadPids(stateDir: string, prefix = 'bench'): number[] {
  const marker = `KRE_WORKLOAD_OWNER=${prefix}@${stateDir}`;
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
      } catch {
        return false; // gone, or not ours
      }
    })
    .map(Number);
}

/**
 * Kills what a bench's deployer left running (workloads outlive their deployer by design). A
 * workload's program is not its process group's leader (bubblewrap's process is): the group goes.
 */
export function killWorkloads(stateDir: string, prefix = 'bench'): void {
  for (const pid of workloadPids(stateDir, prefix)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
