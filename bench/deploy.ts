/**
 * bench/deploy: upload → STARTED for examples/greeter on the local driver (ten runs: median
 * and max; target median < 3 s), and upload throughput of a 100 MB KRT with the admin-api's
 * peak RSS during it (target < 250 MB). Issue 14, Python versions, each against a baseline of
 * the same run:
 * - `python`: the three-node pass-through of bench/dataplane/echo with Python nodes (pass.py, no
 *   requirements) against the same KRT with JavaScript nodes (pass.mjs), in turns: upload →
 *   STARTED median (target ≤ 3 s). The first Python run builds the runner's own virtualenv
 *   (the cache is empty); the median is of cached starts.
 * - `iris`: examples/iris (requirements.txt: scikit-learn, numpy, scipy): first start on an
 *   empty cache (target ≤ 90 s), then cached restarts, stop → start → STARTED (target ≤ 5 s),
 *   and a second version with the same requirements, upload → STARTED.
 *
 * Run: npm run build && npm run bench:deploy   (starts private services; needs the build)
 *      npm run bench:deploy -- --only python,iris --runs 5 --size-mb 0
 * Options: --only PARTS: comma-separated among greeter, python, iris, upload (default: all);
 *          --runs N (default 10; runs of greeter and of each python KRT), --restarts N (default 3;
 *          iris cached restarts), --size-mb N (default 100; 0 skips the large upload),
 *          --dist DIR: run another build's admin-api and deployer (and so its workloads), e.g. a
 *          baseline built from an older commit as bench/upload.ts describes.
 *          --steps: also poll every workload's /readyz (every 50 ms, some load of its own) to
 *          time each one.
 * Prints when each step of the deployer's start job began (BullMQ progress events), in ms since
 * the upload began: the median of all runs, and the first run alone (the first start after a
 * build: the local driver's compile cache is cold).
 * The memory figures of uploads: bench/upload.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
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
    only: { type: 'string', default: 'greeter,python,iris,upload' },
    restarts: { type: 'string', default: '3' },
  },
});
const runs = Number(values.runs);
const restarts = Number(values.restarts);
const PARTS = ['greeter', 'python', 'iris', 'upload'] as const;
const parts = new Set(values.only.split(',').map((part) => part.trim()));
for (const part of parts)
  if (!(PARTS as readonly string[]).includes(part)) {
    console.error(`--only: "${part}" is not a part of this bench (known: ${PARTS.join(', ')})`);
    process.exit(2);
  }
const sizeMb = parts.has('upload') ? Number(values['size-mb']) : 0;
const dist = values.dist ? resolve(values.dist) : join(root, 'dist');

const {
  BENCH_ADMIN,
  benchApiToken,
  benchAppEnv,
  killWorkloads,
  packDir,
  packExample,
  sleep,
  uploadKrt,
  waitLive,
} = (await import(new URL('./harness.ts', import.meta.url).href)) as typeof import('./harness.js');
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
  for (const url of [`${api}/livez`, `http://127.0.0.1:${deployerPort}/livez`]) await waitLive(url);
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

  /** Copies `example` under another version name (a manifest edit), optionally with padding. */
  const pack = (version: string, paddingMb = 0, example = 'examples/greeter'): string =>
    packExample(work, version, { example, change: (dir) => pad(dir, paddingMb) });
  /** bench/dataplane/echo as a KRT: three pass-through nodes, JavaScript or Python. */
  const packEcho = (version: string, language: 'js' | 'python'): string => {
    const dir = join(work, version);
    cpSync(join(root, 'bench/dataplane/echo'), dir, { recursive: true });
    const [image, src] =
      language === 'python'
        ? ['konstellation/kre-py:v3.4.1', 'src/pass.py']
        : ['kre/runner-node:latest', 'src/pass.mjs'];
    const node = (name: string, from: string) =>
      `      - name: ${name}\n        image: ${image}\n        src: ${src}\n        subscriptions:\n          - ${from}\n`;
    writeFileSync(
      join(dir, 'kre.yaml'),
      `krtVersion: v2\nversion: ${version}\ndescription: Three pass-through nodes (${language}).\n` +
        `entrypoint:\n  proto: echo.proto\n  image: konstellation/kre-runtime-entrypoint:latest\n` +
        `workflows:\n  - name: echo\n    entrypoint: Echo\n    exitpoint: c\n    nodes:\n` +
        node('a', 'entrypoint') +
        node('b', 'a') +
        node('c', 'b'),
    );
    return packDir(work, version, dir);
  };
  /** `paddingMb` of random bytes under docs/data: they do not compress, the archive is as large. */
  const pad = (dir: string, paddingMb: number) => {
    if (paddingMb <= 0) return;
    mkdirSync(join(dir, 'docs/data'), { recursive: true });
    for (let i = 0; i < Math.ceil(paddingMb / 10); i++)
      writeFileSync(join(dir, `docs/data/blob-${i}.bin`), randomBytes(10 * 1024 * 1024));
  };
  const upload = (file: string) => uploadKrt(api, auth, file);

  const { Redis } = await import('ioredis');
  const redis = new Redis(services.urls.REDIS_URL);
  /** Per start: seconds to STARTED, and ms since it began at which each step started. */
  interface Start {
    seconds: number;
    marks: Record<string, number>;
  }
  /**
   * Uploads `file` (unless null: a restart of a stopped version), sets `config`, starts the
   * version and waits for STARTED; then stops it. Times from the upload (or the start).
   */
  const deploy = async (
    name: string,
    file: string | null,
    config: Record<string, string> = {},
  ): Promise<Start> => {
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
    try {
      if (file) {
        await upload(file);
        mark('uploaded');
      }
      const variables = Object.entries(config)
        .map(([key, value]) => `{key: "${key}", value: "${value}"}`)
        .join(', ');
      if (variables)
        await gql(
          `mutation { updateVersionUserConfiguration(input: {runtimeId: "bench", versionName: "${name}", configurationVariables: [${variables}]}) { name } }`,
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
    } finally {
      polling = false;
      await poller;
    }
    const seconds = (performance.now() - started) / 1000;
    mark('STARTED seen');
    // The start job's progress events (the previous stop job ended before t0).
    for (const [, fields] of await redis.xrange('bench:versions:events', String(t0), '+')) {
      const event = Object.fromEntries(
        fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])),
      ) as { event?: string; data?: string };
      if (event.event !== 'progress' || !event.data) continue;
      const { step, at } = JSON.parse(event.data) as { step?: string; at?: string };
      if (step && at) marks[`step ${step}`] ??= Date.parse(at) - t0;
    }
    await gql(
      `mutation { stopVersion(input: {runtimeId: "bench", versionName: "${name}", comment: ""}) { status } }`,
    );
    while ((await status(name)).status !== 'STOPPED') await sleep(50);
    return { seconds, marks };
  };
  const round2 = (x: number) => Number(x.toFixed(2));
  const secondsOf = (starts: Start[]) => starts.map((s) => s.seconds);
  const summary = (starts: Start[]) => {
    const xs = secondsOf(starts);
    return {
      median: round2(median(xs)),
      max: round2(Math.max(...xs)),
      min: round2(Math.min(...xs)),
      'first run': round2(xs[0]),
    };
  };
  /** When each step began (median of `starts`, and the first of them alone). */
  const printSteps = (
    starts: Start[],
    title = 'when each step began, ms since the upload began:',
  ) => {
    const keys = [...new Set(starts.flatMap((t) => Object.keys(t.marks)))];
    const rows = keys.map((key) => ({
      key,
      median: median(starts.flatMap((t) => (key in t.marks ? [t.marks[key]] : []))),
      first: starts[0].marks[key],
    }));
    console.log(title);
    console.table(
      Object.fromEntries(
        rows
          .sort((a, b) => a.median - b.median)
          .map(({ key, median, first }) => [key, { median, 'first run': first }]),
      ),
    );
  };
  const pythonCache = join(work, 'state', 'cache', 'python');
  const cachedEnvs = () =>
    readdirSync(pythonCache, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() && !entry.name.startsWith('.') ? [entry.name] : [],
    );
  const failures: string[] = [];
  const check = (what: string, seconds: number, target: number) => {
    const ok = seconds <= target;
    if (!ok) failures.push(`${what}: ${seconds.toFixed(2)} s (target ≤ ${target} s)`);
    return `${ok ? 'ok' : 'MISS'} (target ≤ ${target} s)`;
  };

  try {
    // 1. Upload → STARTED, ten times.
    if (parts.has('greeter')) {
      const starts: Start[] = [];
      for (let run = 0; run < runs; run++) {
        const name = `greeter-b${run}`;
        starts.push(await deploy(name, pack(name), { GREETING: 'Hi' }));
      }
      console.log(`\nupload → STARTED, examples/greeter (4 workloads), ${runs} runs:`);
      console.table({ seconds: summary(starts) });
      printSteps(starts);
    }

    // 2. Python without requirements against JavaScript: the same KRT, in turns.
    const echoPy: Start[] = [];
    if (parts.has('python')) {
      const echoJs: Start[] = [];
      for (let run = 0; run < runs; run++) {
        for (const [language, into] of [
          ['js', echoJs],
          ['python', echoPy],
        ] as const) {
          const name = `echo-${language === 'js' ? 'js' : 'py'}-b${run}`;
          into.push(await deploy(name, packEcho(name, language)));
        }
      }
      // The first Python run built the runner's virtualenv (empty cache): the others reuse it.
      const cached = echoPy.slice(1);
      const jsMedian = median(secondsOf(echoJs));
      const pyMedian = median(secondsOf(cached.length ? cached : echoPy));
      console.log(
        `\nupload → STARTED, bench/dataplane/echo (entrypoint + 3 pass-through nodes), ${runs} runs each, in turns:`,
      );
      console.table({
        'JavaScript nodes': summary(echoJs),
        'Python nodes': summary(echoPy),
      });
      console.log(
        `  Python (cached venv) median ${pyMedian.toFixed(2)} s against JavaScript ${jsMedian.toFixed(2)} s: × ${(pyMedian / jsMedian).toFixed(2)}, ${check('Python start, no requirements (median)', pyMedian, 3)}`,
      );
      console.log(
        `  first Python run (builds the runner's virtualenv on an empty cache): ${echoPy[0].seconds.toFixed(2)} s`,
      );
      printSteps(echoJs, 'JavaScript nodes: when each step began, ms since the upload began:');
      printSteps(echoPy, 'Python nodes: when each step began, ms since the upload began:');
    }

    // 3. examples/iris: scikit-learn from an empty cache, then cached.
    if (parts.has('iris')) {
      const before = existsSync(pythonCache) ? cachedEnvs() : [];
      const first = await deploy('iris-b0', pack('iris-b0', 0, 'examples/iris'));
      const built = cachedEnvs().filter((key) => !before.includes(key));
      const cachedRestarts: Start[] = [];
      for (let run = 0; run < restarts; run++) cachedRestarts.push(await deploy('iris-b0', null));
      const other = await deploy('iris-b1', pack('iris-b1', 0, 'examples/iris'));
      const baseline = echoPy.length > 1 ? median(secondsOf(echoPy.slice(1))) : undefined;
      const against = (seconds: number) =>
        baseline ? ` (× ${(seconds / baseline).toFixed(2)} the Python echo's median)` : '';
      const restartMedian = median(secondsOf(cachedRestarts));
      console.log(
        `\nexamples/iris (requirements.txt: ${readFileSync(
          join(root, 'examples/iris/requirements.txt'),
          'utf8',
        )
          .split('\n')
          .filter((line) => line.trim() && !line.startsWith('#'))
          .join(', ')}):`,
      );
      console.log(
        `  first start, empty cache (virtualenv ${built.length ? `${built.join(', ')} built` : 'NOT built: it was cached'}): upload → STARTED ${first.seconds.toFixed(2)} s${against(first.seconds)}, ${check('iris first start, empty cache', first.seconds, 90)}`,
      );
      console.log(
        `  cached restart (stop → start → STARTED), ${restarts} runs: median ${restartMedian.toFixed(2)} s, max ${Math.max(...secondsOf(cachedRestarts)).toFixed(2)} s${against(restartMedian)}, ${check('iris cached restart (median)', restartMedian, 5)}`,
      );
      console.log(
        `  another version, same requirements (cached venv): upload → STARTED ${other.seconds.toFixed(2)} s${against(other.seconds)}`,
      );
      printSteps([first], 'iris, first start: when each step began, ms since the upload began:');
      printSteps(
        cachedRestarts,
        'iris, cached restarts: when each step began, ms since the start:',
      );
    }
  } finally {
    redis.disconnect();
  }

  // 4. A large upload: throughput and the admin-api's peak RSS (bench/upload.ts has the details).
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
  console.log(
    failures.length ? `\ntargets missed:\n  ${failures.join('\n  ')}` : '\nall targets met',
  );
} finally {
  for (const app of apps) app.kill('SIGTERM');
  await Promise.all(
    apps.map((app) => new Promise((r) => (app.exitCode !== null ? r(null) : app.once('exit', r)))),
  );
  // Workloads run in their own process groups: stop whatever a failed run left.
  killWorkloads(join(work, 'state'));
  await services.stop();
  rmSync(work, { recursive: true, force: true });
}
