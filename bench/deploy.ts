/**
 * bench/deploy: upload → STARTED for examples/greeter on the local driver (ten runs: median
 * and max; target median < 3 s), and upload throughput of a 100 MB KRT with the admin-api's
 * peak RSS during it (target < 250 MB).
 *
 * Run: npm run build && npm run bench:deploy   (starts private services; needs the build)
 * Options: --runs N (default 10), --size-mb N (default 100; 0 skips the large upload),
 *          --dist DIR: run another build's admin-api and deployer (and so its workloads), e.g. a
 *          baseline built from an older commit as bench/upload.ts describes.
 *          --steps: also poll every workload's /readyz (every 50 ms, some load of its own) to
 *          time each one.
 * Prints when each step of the deployer's start job began (BullMQ progress events), in ms since
 * the upload began: the median of all runs, and the first run alone (the first start after a
 * build: the local driver's compile cache is cold).
 * The memory figures of uploads: bench/upload.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  openAsBlob,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'size-mb': { type: 'string', default: '100' },
    dist: { type: 'string' },
    steps: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const sizeMb = Number(values['size-mb']);
const dist = values.dist ? resolve(values.dist) : join(root, 'dist');

const { BENCH_ADMIN, benchApiToken, benchAppEnv, sleep } = (await import(
  new URL('./harness.ts', import.meta.url).href
)) as typeof import('./harness.js');
const { startServices, freePort } = (await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
)) as typeof import('../libs/testing/src/services.js');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
/** Peak resident set size of a process so far (VmHWM), in MiB. */
const peakRssMb = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

console.log('starting Redis, NATS, FerretDB and Mailpit…');
const services = await startServices();
const work = mkdtempSync(join(tmpdir(), 'kre-bench-deploy-'));
const [apiPort, deployerPort] = [await freePort(), await freePort()];
const api = `http://127.0.0.1:${apiPort}`;
const admin = BENCH_ADMIN;
const env = {
  ...benchAppEnv({ ...services.urls }),
  ADMIN_API_PORT: String(apiPort),
  FRONTEND_URL: api,
  DEPLOYER_HEALTH_PORT: String(deployerPort),
  KRE_STATE_DIR: join(work, 'state'),
};
/** Node flags as the Dockerfile and scripts/start run each app. */
const nodeFlags: Record<string, string[]> = { 'admin-api': ['--max-semi-space-size=4'] };
const apps: ChildProcess[] = ['admin-api', 'deployer'].map((app) =>
  spawn(process.execPath, [...(nodeFlags[app] ?? []), join(dist, 'apps', app, 'src/main.js')], {
    cwd: root,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  }),
);
const apiPid = apps[0].pid!;

try {
  for (const url of [`${api}/livez`, `http://127.0.0.1:${deployerPort}/livez`]) {
    for (
      let i = 0;
      !(await fetch(url).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    ) {
      if (i > 300) throw new Error(`${url} did not answer`);
      await sleep(100);
    }
  }
  // Sign in through the mail, then an API token.
  const auth = await benchApiToken(api, services.urls.MAILPIT_URL, admin);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const gql = async <T>(query: string): Promise<T> => {
    const body = (await (await post('/graphql', { query }, auth)).json()) as {
      data?: T;
      errors?: unknown;
    };
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const status = async (name: string) =>
    (
      await gql<{ version: { status: string; errors: string[] } }>(
        `{ version(runtimeId: "bench", name: "${name}") { status errors } }`,
      )
    ).version;

  await gql(
    'mutation { createRuntime(input: {id: "bench", name: "Bench", description: ""}) { id } }',
  );
  while (
    (await gql<{ runtime: { status: string } }>('{ runtime(id: "bench") { status } }')).runtime
      .status !== 'CREATED'
  )
    await sleep(100);

  /** Packs examples/greeter under another version name (a manifest edit), optionally with padding. */
  const pack = (version: string, paddingMb = 0): string => {
    const dir = join(work, version);
    cpSync(join(root, 'examples/greeter'), dir, { recursive: true });
    const manifest = join(dir, 'kre.yaml');
    writeFileSync(
      manifest,
      readFileSync(manifest, 'utf8').replace(/^version: .*$/m, `version: ${version}`),
    );
    if (paddingMb > 0) {
      mkdirSync(join(dir, 'docs/data'), { recursive: true });
      // Random bytes do not compress: the archive is as large as asked.
      for (let i = 0; i < Math.ceil(paddingMb / 10); i++)
        writeFileSync(join(dir, `docs/data/blob-${i}.bin`), randomBytes(10 * 1024 * 1024));
    }
    const out = join(work, `${version}.krt`);
    execFileSync(process.execPath, [join(root, 'bin/kre.js'), 'krt', 'pack', dir, '-o', out], {
      stdio: 'ignore',
    });
    return out;
  };
  const upload = async (file: string) => {
    const form = new FormData();
    form.append('file', await openAsBlob(file), 'version.krt');
    const response = await fetch(`${api}/api/v1/runtimes/bench/versions`, {
      method: 'POST',
      headers: auth,
      body: form,
    });
    if (response.status !== 201)
      throw new Error(`upload: ${response.status} ${await response.text()}`);
  };

  // 1. Upload → STARTED, ten times.
  const { Redis } = await import('ioredis');
  const redis = new Redis(services.urls.REDIS_URL);
  const durations: number[] = [];
  /** Per run: ms since the upload began at which each step started. */
  const timelines: Record<string, number>[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const name = `greeter-b${run}`;
      const file = pack(name);
      const started = performance.now();
      const t0 = Date.now();
      const marks: Record<string, number> = {};
      const mark = (what: string) => (marks[what] = Date.now() - t0);
      let polling = values.steps;
      const poller = (async () => {
        const registry = join(work, 'state', 'versions', 'bench', name, 'registry.json');
        while (polling) {
          const replicas = await readFile(registry, 'utf8').then(
            (text) =>
              (
                JSON.parse(text) as {
                  replicas: { workloadId: string; ports: { health?: number } }[];
                }
              ).replicas,
            () => [],
          );
          await Promise.all(
            replicas.map(async ({ workloadId, ports }) => {
              if (marks[`ready ${workloadId}`] !== undefined || !ports.health) return;
              if (
                await fetch(`http://127.0.0.1:${ports.health}/readyz`).then(
                  (r) => r.ok,
                  () => false,
                )
              )
                mark(`ready ${workloadId}`);
            }),
          );
          await sleep(50);
        }
      })();
      await upload(file);
      mark('uploaded');
      await gql(
        `mutation { updateVersionUserConfiguration(input: {runtimeId: "bench", versionName: "${name}", configurationVariables: [{key: "GREETING", value: "Hi"}]}) { name } }`,
      );
      await gql(
        `mutation { startVersion(input: {runtimeId: "bench", versionName: "${name}", comment: ""}) { status } }`,
      );
      mark('start queued');
      for (;;) {
        const v = await status(name);
        if (v.status === 'STARTED') break;
        if (v.status === 'ERROR') throw new Error(`${name}: ${v.errors.join('; ')}`);
        await sleep(20);
      }
      durations.push((performance.now() - started) / 1000);
      mark('STARTED seen');
      polling = false;
      await poller;
      // The start job's progress events (the previous stop job ended before t0).
      for (const [, fields] of await redis.xrange('bench:versions:events', String(t0), '+')) {
        const event = Object.fromEntries(
          fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])),
        ) as { event?: string; data?: string };
        if (event.event !== 'progress' || !event.data) continue;
        const { step, at } = JSON.parse(event.data) as { step?: string; at?: string };
        if (step && at) marks[`step ${step}`] ??= Date.parse(at) - t0;
      }
      timelines.push(marks);
      await gql(
        `mutation { stopVersion(input: {runtimeId: "bench", versionName: "${name}", comment: ""}) { status } }`,
      );
      while ((await status(name)).status !== 'STOPPED') await sleep(50);
    }
  } finally {
    redis.disconnect();
  }
  console.log(`\nupload → STARTED, examples/greeter (4 workloads), ${runs} runs:`);
  console.table({
    seconds: {
      median: Number(median(durations).toFixed(2)),
      max: Number(Math.max(...durations).toFixed(2)),
      min: Number(Math.min(...durations).toFixed(2)),
      'first run': Number(durations[0].toFixed(2)),
    },
  });
  const keys = [...new Set(timelines.flatMap((t) => Object.keys(t)))];
  const rows = keys.map((key) => ({
    key,
    median: median(timelines.flatMap((t) => (key in t ? [t[key]] : []))),
    first: timelines[0][key],
  }));
  console.log('when each step began, ms since the upload began:');
  console.table(
    Object.fromEntries(
      rows
        .sort((a, b) => a.median - b.median)
        .map(({ key, median, first }) => [key, { median, 'first run': first }]),
    ),
  );

  // 2. A large upload: throughput and the admin-api's peak RSS (bench/upload.ts has the details).
  if (sizeMb > 0) {
    const big = pack('greeter-big', sizeMb);
    const bytes = statSync(big).size;
    const rssBefore = peakRssMb(apiPid);
    const started = performance.now();
    await upload(big);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `\nupload of a ${(bytes / 1024 / 1024).toFixed(1)} MiB KRT (stream to disk, validate, store as chunks):`,
    );
    console.table({
      upload: {
        seconds: Number(seconds.toFixed(2)),
        'MiB/s': Number((bytes / 1024 / 1024 / seconds).toFixed(1)),
        'admin-api peak RSS before (MiB)': Math.round(rssBefore),
        'admin-api peak RSS after (MiB)': Math.round(peakRssMb(apiPid)),
      },
    });
  }
} finally {
  for (const app of apps) app.kill('SIGTERM');
  await Promise.all(
    apps.map((app) => new Promise((r) => (app.exitCode !== null ? r(null) : app.once('exit', r)))),
  );
  // Workloads run in their own process groups: stop whatever a failed run left.
  const marker = `KRE_WORKLOAD_OWNER=bench@${join(work, 'state')}`;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker))
        process.kill(-Number(pid), 'SIGKILL');
    } catch {
      // gone or not ours
    }
  }
  await services.stop();
  rmSync(work, { recursive: true, force: true });
}
