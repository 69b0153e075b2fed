/**
 * bench/upload: the admin-api's memory while it takes large KRT uploads (issue #5 target: under
 * 250 MB RSS during and after a 100 MB upload), and the upload throughput.
 *
 * Run: npm run build && npm run bench:upload   (starts private services; needs the build)
 * Options: --size-mb N (default 100), --uploads N (default 3, each a new version),
 *          --baseline DIR: another build's dist/ (e.g. of an older commit, see below), measured
 *          in the same run against the same services, started as that commit started it.
 *
 * Each configuration gets a fresh admin-api process (production mode, as in bench/deploy): its
 * RSS when idle after one GraphQL request, then per upload the peak so far (VmHWM, the kernel's
 * high-water mark, which covers the whole upload) and the RSS 3 s after the answer (VmRSS), from
 * /proc/<pid>/status. This build runs twice: with the Node flags it ships with
 * (ADMIN_API_NODE_FLAGS, as in the Dockerfile and scripts/start) and without them.
 *
 * A baseline build of an older commit, inside the repo so it resolves the same node_modules:
 *   git worktree add tmp/base <commit> && (cd tmp/base && ../../node_modules/.bin/nest build)
 *   npm run bench:upload -- --baseline tmp/base/dist
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '100' },
    uploads: { type: 'string', default: '3' },
    baseline: { type: 'string' },
  },
});
const sizeMb = Number(values['size-mb']);
const uploads = Number(values.uploads);
/**
 * How the admin-api is started (Dockerfile, scripts/start): young generation capped, see
 * docs/lifecycle.md "Performance".
 */
const ADMIN_API_NODE_FLAGS = ['--max-semi-space-size=4'];
const builds: { label: string; dist: string; flags: string[] }[] = [];
if (values.baseline) builds.push({ label: 'baseline', dist: resolve(values.baseline), flags: [] });
builds.push(
  { label: 'this build, no flags', dist: join(root, 'dist'), flags: [] },
  {
    label: `this build ${ADMIN_API_NODE_FLAGS.join(' ')}`,
    dist: join(root, 'dist'),
    flags: ADMIN_API_NODE_FLAGS,
  },
);
for (const { dist } of builds) {
  if (!existsSync(join(dist, 'apps/admin-api/src/main.js'))) {
    console.error(`${dist}/apps/admin-api/src/main.js does not exist: build it first`);
    process.exit(1);
  }
}

const { BENCH_ADMIN, benchApiToken, benchAppEnv, packExample, sleep, uploadKrt, waitLive } =
  (await import(new URL('./harness.ts', import.meta.url).href)) as typeof import('./harness.js');
const { startServices, freePort } = (await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
)) as typeof import('../libs/testing/src/services.js');

const MiB = 1024 * 1024;
/** VmHWM (peak so far) and VmRSS (now) of a process, in MiB. */
function memory(pid: number): { peak: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { peak: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}
const round = (x: number) => Math.round(x);

console.log('starting Redis, NATS, FerretDB and Mailpit…');
const services = await startServices();
const work = mkdtempSync(join(tmpdir(), 'kre-bench-upload-'));
const admin = BENCH_ADMIN;
const env = {
  ...benchAppEnv({ ...services.urls }),
  DEPLOYER_HEALTH_PORT: String(await freePort()),
  KRE_STATE_DIR: join(work, 'state'),
};
const children = new Set<ChildProcess>();
const start = (
  dist: string,
  app: string,
  extra: Record<string, string> = {},
  flags: string[] = [],
) => {
  const child = spawn(process.execPath, [...flags, join(dist, 'apps', app, 'src/main.js')], {
    cwd: root,
    env: { ...env, ...extra },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};
const stop = async (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
};

/** Packs examples/greeter as `version` with `paddingMb` of incompressible files. */
const pack = (version: string, paddingMb: number): string => {
  const out = packExample(work, version, {
    change: (dir) => {
      mkdirSync(join(dir, 'docs/data'), { recursive: true });
      for (let i = 0; i < Math.ceil(paddingMb / 10); i++)
        writeFileSync(join(dir, `docs/data/blob-${i}.bin`), randomBytes(10 * MiB));
    },
  });
  rmSync(join(work, version), { recursive: true });
  return out;
};

// The deployer (this build's) only provisions the runtime; it idles during the uploads.
start(join(root, 'dist'), 'deployer');
const rows: Record<string, Record<string, number | string>> = {};
try {
  await waitLive(`http://127.0.0.1:${env.DEPLOYER_HEALTH_PORT}/livez`);
  console.log(`packing ${builds.length * uploads} KRTs of ${sizeMb} MiB…`);
  const archives = builds.map((_, b) =>
    Array.from({ length: uploads }, (_, u) => pack(`big-b${b}-u${u}`, sizeMb)),
  );

  let auth: Record<string, string> | undefined;
  for (const [b, build] of builds.entries()) {
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const apiProcess = start(
      build.dist,
      'admin-api',
      { ADMIN_API_PORT: String(port), FRONTEND_URL: api },
      build.flags,
    );
    const pid = apiProcess.pid!;
    try {
      await waitLive(`${api}/livez`);
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${api}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
      const gql = async <T>(query: string, headers = auth ?? {}): Promise<T> => {
        const body = (await (await post('/graphql', { query }, headers)).json()) as {
          data?: T;
          errors?: unknown;
        };
        if (!body.data) throw new Error(JSON.stringify(body.errors));
        return body.data;
      };
      if (!auth) {
        // Once: sign in through the mail, an API token (kept in the database for every build),
        // the runtime.
        auth = await benchApiToken(api, services.urls.MAILPIT_URL, admin);
        await gql(
          'mutation { createRuntime(input: {id: "bench", name: "Bench", description: ""}) { id } }',
        );
        while (
          (await gql<{ runtime: { status: string } }>('{ runtime(id: "bench") { status } }'))
            .runtime.status !== 'CREATED'
        )
          await sleep(100);
      } else {
        await gql('{ runtime(id: "bench") { status } }');
      }
      await sleep(3000);
      const idle = memory(pid);
      const row: Record<string, number | string> = {
        'idle RSS': round(idle.rss),
        'idle peak': round(idle.peak),
      };
      let bytes = 0;
      let seconds = 0;
      for (const [u, file] of archives[b].entries()) {
        const began = performance.now();
        await uploadKrt(api, auth, file);
        seconds += (performance.now() - began) / 1000;
        bytes += statSync(file).size;
        row[`peak to upload ${u + 1}`] = round(memory(pid).peak);
        await sleep(3000);
        row[`RSS 3 s after ${u + 1}`] = round(memory(pid).rss);
      }
      row['MiB/s'] = Number((bytes / MiB / seconds).toFixed(1));
      rows[build.label] = row;
    } finally {
      await stop(apiProcess);
    }
  }
} finally {
  await Promise.all([...children].map(stop));
  await services.stop();
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `\nadmin-api memory (MiB, from /proc/<pid>/status) around ${uploads} uploads of a ${sizeMb} MiB KRT each:`,
);
console.table(rows);
if (rows.baseline) {
  const key = `peak to upload ${uploads}`;
  for (const [label, row] of Object.entries(rows).filter(([label]) => label !== 'baseline'))
    console.log(
      `${label}: peak ${(Number(row[key]) / Number(rows.baseline[key])).toFixed(2)} × baseline's`,
    );
}
