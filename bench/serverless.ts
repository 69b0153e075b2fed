/**
 * bench/serverless (#16): cold start of a sleeping version through the gateway, beside the same
 * call to the awake version in the same run. examples/greeter on the local driver (admin-api,
 * deployer and gateway as processes, private services): the version is started, `--warm` calls
 * to it awake give the baseline; then, `--wakes` times, it is left to fall asleep (idle time
 * 1 s, updateVersionScale) and one call is timed from its sending to its answer (the gateway
 * holds it, asks the deployer to wake the version, the deployer's wake job resumes its
 * workloads and waits for their /readyz, the gateway lets the call through). Targets (issue
 * #16): cold start p50 ≤ 1 s, p99 ≤ 2 s; the idle awake version ≤ 150 MB RSS. Prints the idle
 * version's memory awake and asleep (its workloads' processes, RSS and PSS summed) and how many
 * such versions this machine's available memory holds.
 * Then the same idle version with a process per workload (a deployer with
 * WORKLOAD_SHARED_PROCESS=false, the version woken with a changed config): its memory beside the
 * shared process's (docs/lifecycle.md, "Density").
 * Prints, per wake, when the wake job's steps began (BullMQ progress events) in ms since the call
 * was sent: `resume` (the job runs), `wait-ready` (the processes are spawned), `awake` (every
 * /readyz answered).
 *
 * Run: npm run build && npm run bench:serverless   (starts private services; needs the build)
 * Options: --wakes N (default 10), --warm N (default 50), --dist DIR (another build's apps).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    wakes: { type: 'string', default: '10' },
    warm: { type: 'string', default: '50' },
    dist: { type: 'string' },
  },
});
const wakes = Number(values.wakes);
const warmCalls = Number(values.warm);
const dist = values.dist ? resolve(values.dist) : join(root, 'dist');

const {
  BENCH_ADMIN,
  benchApiToken,
  benchAppEnv,
  killWorkloads,
  packExample,
  sleep,
  uploadKrt,
  waitLive,
  workloadPids: benchWorkloadPids,
} = (await import(new URL('./harness.ts', import.meta.url).href)) as typeof import('./harness.js');
const { startServices, freePort } = (await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
)) as typeof import('../libs/testing/src/services.js');

const workloadPids = () => benchWorkloadPids(join(work, 'state'));

/** RSS and PSS (shared pages split between their sharers) of those processes, summed, bytes. */
const workloadMemory = (): { processes: number; rss: number; pss: number } => {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const pid of workloadPids()) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kb = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
      rss += kb('Rss') * 1024;
      pss += kb('Pss') * 1024;
      processes += 1;
    } catch {
      // exited meanwhile
    }
  }
  return { processes, rss, pss };
};

const memAvailableBytes = () =>
  Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;

/** The p-th percentile (nearest rank) of `xs`. */
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const round = (x: number) => Math.round(x);

console.log('starting Redis, NATS, FerretDB and Mailpit…');
const services = await startServices();
const work = mkdtempSync(join(tmpdir(), 'kre-bench-serverless-'));
const [apiPort, deployerPort, gwHttp, gwGrpc, gwHealth] = await Promise.all(
  Array.from({ length: 5 }, () => freePort()),
);
const api = `http://127.0.0.1:${apiPort}`;
const gateway = `http://127.0.0.1:${gwHttp}`;
const env = {
  ...benchAppEnv({ ...services.urls }),
  ADMIN_API_PORT: String(apiPort),
  FRONTEND_URL: api,
  DEPLOYER_HEALTH_PORT: String(deployerPort),
  KRE_STATE_DIR: join(work, 'state'),
  GATEWAY_HTTP_PORT: String(gwHttp),
  GATEWAY_GRPC_PORT: String(gwGrpc),
  GATEWAY_HEALTH_PORT: String(gwHealth),
  GATEWAY_WAKE_HOLD_SECONDS: '60',
  // The scale-out phase: a node's backlog over 8 messages per replica wants another replica.
  AUTOSCALE_TARGET_BACKLOG: '8',
  // ...and the entrypoint's: 64 calls in flight want 4 replicas (bounded 1..3).
  AUTOSCALE_TARGET_IN_FLIGHT: '16',
  // ...and the load that makes it: no limit of the gateway's binds.
  GATEWAY_RUNTIME_RATE: '1000000',
  GATEWAY_RUNTIME_BURST: '1000000',
  GATEWAY_KEY_RATE: '1000000',
  GATEWAY_KEY_BURST: '1000000',
};
const runApp = (app: string, extra: Record<string, string> = {}) =>
  spawn(process.execPath, [join(dist, 'apps', app, 'src/main.js')], {
    cwd: root,
    env: { ...env, ...extra },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
const apps: ChildProcess[] = ['admin-api', 'deployer', 'gateway'].map((app) => runApp(app));

try {
  for (const url of [
    `${api}/livez`,
    `http://127.0.0.1:${deployerPort}/livez`,
    `http://127.0.0.1:${gwHealth}/livez`,
  ])
    await waitLive(url);
  const auth = await benchApiToken(api, services.urls.MAILPIT_URL, BENCH_ADMIN);
  const gql = async <T>(query: string): Promise<T> => {
    const response = await fetch(`${api}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    let body: { data?: T; errors?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`graphql ${response.status}: ${text.slice(0, 200)}`);
    }
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const version = async (name = 'greeter-v1') =>
    (
      await gql<{
        version: {
          status: string;
          errors: string[];
          scale: { state: string | null; replicas: number | null };
        };
      }>(
        `{ version(runtimeId: "bench", name: "${name}") { status errors scale { state replicas } } }`,
      )
    ).version;
  /** Starts a version and waits until it is STARTED. */
  const startVersion = async (name: string) => {
    await gql(
      `mutation { startVersion(input: {runtimeId: "bench", versionName: "${name}", comment: ""}) { status } }`,
    );
    for (;;) {
      const v = await version(name);
      if (v.status === 'STARTED') return;
      if (v.status === 'ERROR') throw new Error(`start: ${v.errors.join('; ')}`);
      await sleep(50);
    }
  };

  await gql(
    'mutation { createRuntime(input: {id: "bench", name: "Bench", description: ""}) { id } }',
  );
  while (
    (await gql<{ runtime: { status: string } }>('{ runtime(id: "bench") { status } }')).runtime
      .status !== 'CREATED'
  )
    await sleep(100);
  /** examples/greeter as version `name` (`change` edits its copy first), its config set. */
  const uploadGreeter = async (name: string, change?: (dir: string) => void) => {
    await uploadKrt(api, auth, packExample(work, name, { change }));
    await gql(
      `mutation { updateVersionUserConfiguration(input: {runtimeId: "bench", versionName: "${name}", configurationVariables: [{key: "GREETING", value: "Hello"}]}) { name } }`,
    );
  };
  await uploadGreeter('greeter-v1');
  const { Redis } = await import('ioredis');
  const redis = new Redis(services.urls.REDIS_URL);
  /** When each step of a version job began since `t0` (BullMQ progress events), ms. */
  const stepsSince = async (t0: number): Promise<Record<string, number>> => {
    const marks: Record<string, number> = {};
    for (const [, fields] of await redis.xrange('bench:versions:events', String(t0), '+')) {
      const event = Object.fromEntries(
        fields.flatMap((_, j) => (j % 2 ? [] : [[fields[j], fields[j + 1]]])),
      ) as { event?: string; data?: string };
      if (event.event !== 'progress' || !event.data) continue;
      const { step, at } = JSON.parse(event.data) as { step?: string; at?: string };
      if (step && at) marks[step] ??= Date.parse(at) - t0;
    }
    return marks;
  };
  const startedAt = Date.now();
  await startVersion('greeter-v1');

  // Runtimes take calls with an invocation key only (it reaches the gateway within seconds).
  const { key } = (
    await gql<{ createInvocationKey: { key: string } }>(
      'mutation { createInvocationKey(runtimeId: "bench", input: {name: "bench"}) { key } }',
    )
  ).createInvocationKey;

  let greeting = 'Hello';
  /** One call through the gateway: ms from sending to the whole answer. */
  const call = async (name: string, versionName = 'greeter-v1'): Promise<number> => {
    const t0 = performance.now();
    const response = await fetch(`${gateway}/bench/versions/${versionName}/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ name }),
    });
    const body = (await response.json().catch(() => ({}))) as { greeting?: string };
    const ms = performance.now() - t0;
    if (response.status !== 200 || body.greeting !== `${greeting}, ${name}!`)
      throw new Error(`call: ${response.status} ${JSON.stringify(body)}`);
    return ms;
  };

  /** A call, tried again every 100 ms until it is answered (for about 30 s). */
  const retried = async (name: string, versionName = 'greeter-v1') => {
    for (let i = 0; ; i++) {
      const ok = await call(name, versionName).then(
        () => true,
        async (error: Error) => {
          if (i > 300)
            throw new Error(
              `${error.message}; the version: ${JSON.stringify(await version(versionName))}`,
            );
          return false;
        },
      );
      if (ok) return;
      await sleep(100);
    }
  };

  // The version's workloads booting in the start job: from spawned (wait-ready) to all ready.
  const start = await stepsSince(startedAt);
  const startBootMs = start.route - start['wait-ready'];

  // Warm baseline: the awake version (after a few calls that warm its code paths).
  for (let i = 0; ; i++) {
    const ok = await call('key').then(
      () => true,
      (error: Error) => {
        if (i > 100 || !error.message.startsWith('call: 401')) throw error;
        return false;
      },
    );
    if (ok) break;
    await sleep(100);
  }
  for (let i = 0; i < 5; i++) await call(`warmup-${i}`);
  const warm: number[] = [];
  for (let i = 0; i < warmCalls; i++) warm.push(await call(`warm-${i}`));

  // Memory of the idle awake version: every process of its workloads (the sandbox's own included).
  await sleep(2_000);
  const awakeMemory = workloadMemory();

  await gql(
    'mutation { updateVersionScale(input: {runtimeId: "bench", versionName: "greeter-v1", idleSeconds: 1}) { name } }',
  );
  let asleepMemory: ReturnType<typeof workloadMemory> | undefined;
  const cold: number[] = [];
  const steps: Record<string, number>[] = [];
  const registry = join(work, 'state', 'versions', 'bench', 'greeter-v1', 'registry.json');
  const untilAsleep = async () => {
    while ((await version()).scale.state !== 'SLEEPING') await sleep(50);
    // The release ends after the state is written: wait until no workload process is left.
    while (
      (
        JSON.parse(readFileSync(registry, 'utf8')) as { replicas: { pid?: number }[] }
      ).replicas.some((r) => r.pid)
    )
      await sleep(50);
  };
  for (let i = 0; i < wakes; i++) {
    await untilAsleep();
    await sleep(200);
    asleepMemory ??= workloadMemory();
    const t0 = Date.now();
    cold.push(await call(`cold-${i}`));
    const marks = await stepsSince(t0);
    // A replica that crashed while waking (it shows in the registry with why).
    for (const r of (
      JSON.parse(readFileSync(registry, 'utf8')) as {
        replicas: { workloadId: string; restarts: number; message?: string }[];
      }
    ).replicas)
      if (r.restarts > 0) console.log(`  ${r.workloadId} restarted ${r.restarts}: ${r.message}`);
    steps.push(marks);
    console.log(
      `wake ${i + 1}: ${round(cold[i])} ms (${['resume', 'wait-ready', 'awake'].map((k) => `${k} at ${marks[k]}`).join(', ')})`,
    );
  }

  // Scale-out reaction (issue #16: within 5 s of a sustained backlog): a copy of the greeter whose
  // make-greeting takes 200 ms a message (80 messages a second for one replica at 16 in flight),
  // bounded 1..3, and 64 callers at once; from the load's start to the first scale-out's replicas
  // serving (Version.scale.replicas above the started count).
  await untilAsleep(); // greeter-v1 holds nothing meanwhile
  await uploadGreeter('greeter-slow', (dir) =>
    writeFileSync(
      join(dir, 'src/make-greeting/handler.mjs'),
      `export async function handler(ctx, data) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { text: \`\${ctx.config.get('GREETING') || 'Hello'}, \${data.name}!\` };
}
`,
    ),
  );
  const slowVersion = () => version('greeter-slow');
  await gql(
    'mutation { updateNodeAutoscale(input: {runtimeId: "bench", versionName: "greeter-slow", workflowName: "greet", nodeName: "make-greeting", min: 1, max: 3}) { name } }',
  );
  await startVersion('greeter-slow');
  await retried('slow', 'greeter-slow');
  /**
   * 64 callers at once on greeter-slow until Version.scale.replicas is above the started count:
   * from the load's start to the new replicas serving.
   */
  const scaleOut = async () => {
    const before = (await slowVersion()).scale.replicas ?? 0;
    let loading = true;
    let served = 0;
    const loadStart = performance.now();
    let failed: Error | undefined;
    const callers = Array.from({ length: 64 }, async (_, c) => {
      try {
        for (let i = 0; loading; i++) {
          await call(`load-${c}-${i}`, 'greeter-slow');
          served += 1;
        }
      } catch (error) {
        // Ends the load; thrown below, inside the try whose finally stops the apps.
        failed ??= error instanceof Error ? error : new Error(String(error));
        loading = false;
      }
    });
    let reactionMs = NaN;
    while (performance.now() - loadStart < 30_000) {
      if (((await slowVersion()).scale.replicas ?? 0) > before) {
        reactionMs = performance.now() - loadStart;
        break;
      }
      await sleep(100);
    }
    loading = false;
    await Promise.all(callers);
    if (failed) throw failed;
    const after = (await slowVersion()).scale.replicas ?? 0;
    await gql(
      'mutation { stopVersion(input: {runtimeId: "bench", versionName: "greeter-slow", comment: ""}) { status } }',
    );
    while ((await slowVersion()).status !== 'STOPPED') await sleep(100);
    return { before, after, reactionMs, served };
  };
  const nodeOut = await scaleOut();
  // The same load with the entrypoint bounded 1..3 instead (64 calls in flight at
  // AUTOSCALE_TARGET_IN_FLIGHT 16 want 4): its further replicas serve beside the first.
  await gql(
    'mutation { updateNodeAutoscale(input: {runtimeId: "bench", versionName: "greeter-slow", workflowName: "greet", nodeName: "make-greeting", min: null, max: null}) { name } }',
  );
  await gql(
    'mutation { updateEntrypointAutoscale(input: {runtimeId: "bench", versionName: "greeter-slow", min: 1, max: 3}) { name } }',
  );
  await startVersion('greeter-slow');
  await retried('slow-entrypoint', 'greeter-slow');
  const entrypointOut = await scaleOut();

  // The same version with a process per workload: a deployer that does not share, and a config
  // change (applied asleep: the next wake runs it, in four processes).
  await untilAsleep();
  const stopped = new Promise((done) => apps[1].once('exit', done));
  apps[1].kill('SIGTERM');
  await stopped;
  apps[1] = runApp('deployer', { WORKLOAD_SHARED_PROCESS: 'false' });
  await waitLive(`http://127.0.0.1:${deployerPort}/livez`);
  await gql(
    'mutation { updateVersionScale(input: {runtimeId: "bench", versionName: "greeter-v1", idleSeconds: 3600}) { name } }',
  );
  await gql(
    'mutation { updateVersionUserConfiguration(input: {runtimeId: "bench", versionName: "greeter-v1", configurationVariables: [{key: "GREETING", value: "Hi"}]}) { name } }',
  );
  greeting = 'Hi';
  // Until the new config answers (the roll is a job; a call wakes the version), then warm it.
  await retried('own');
  for (let i = 0; i < 5 + warmCalls; i++) await retried(`own-${i}`);
  await sleep(2_000);
  const ownMemory = workloadMemory();

  const row = (xs: number[]) => ({
    p50: round(percentile(xs, 50)),
    p99: round(percentile(xs, 99)),
    min: round(Math.min(...xs)),
    max: round(Math.max(...xs)),
    calls: xs.length,
  });
  console.log('\ncall through the gateway, ms from sending to the answer:');
  console.table({ 'awake (baseline)': row(warm), 'asleep (cold start)': row(cold) });
  const p50 = (key: string) =>
    round(
      percentile(
        steps.map((s) => s[key] ?? NaN),
        50,
      ),
    );
  const boot = steps.map((s) => s.awake - s['wait-ready']);
  const overhead = cold.map((ms, i) => ms - boot[i]);
  console.log(
    `wake job steps (p50, ms after the call was sent): resume ${p50('resume')}, wait-ready ${p50('wait-ready')}, awake ${p50('awake')}`,
  );
  console.log(
    `of a cold start: its workloads booting (wait-ready → awake) p50 ${round(percentile(boot, 50))} ms; everything else (hold, wake request, job, spawn, route, the call itself) p50 ${round(percentile(overhead, 50))} ms`,
  );
  console.log(
    `the same workloads booting in this run's start job (wait-ready → route): ${round(startBootMs)} ms`,
  );
  console.log(
    `cold start p50 is ${(percentile(cold, 50) / percentile(warm, 50)).toFixed(1)} × the awake call's p50; target p50 ≤ 1000 ms, p99 ≤ 2000 ms: ${percentile(cold, 50) <= 1_000 && percentile(cold, 99) <= 2_000 ? 'met' : 'missed'}`,
  );
  const outLine = (what: string, out: Awaited<ReturnType<typeof scaleOut>>) =>
    `${what}: replicas ${out.before} → ${out.after}, the new ones serving ${round(out.reactionMs)} ms after the load began (${out.served} calls answered); target ≤ 5000 ms: ${out.reactionMs <= 5_000 ? 'met' : 'missed'}`;
  console.log(
    '\nscale-out under 64 callers (a greeter whose make-greeting takes 200 ms; AUTOSCALE_UP_AFTER_SECONDS 2):',
  );
  console.log(outLine('  make-greeting bounded 1..3 (AUTOSCALE_TARGET_BACKLOG 8)', nodeOut));
  console.log(
    outLine('  the entrypoint bounded 1..3 (AUTOSCALE_TARGET_IN_FLIGHT 16)', entrypointOut),
  );
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  const available = memAvailableBytes();
  console.log('\nmemory of the idle greeter (entrypoint + three runners), its processes summed:');
  console.table({
    'awake, a process per workload (before)': {
      processes: ownMemory.processes,
      'RSS MB': mb(ownMemory.rss),
      'PSS MB': mb(ownMemory.pss),
      'versions per machine (MemAvailable / PSS)': Math.floor(available / ownMemory.pss),
    },
    'awake, one shared process': {
      processes: awakeMemory.processes,
      'RSS MB': mb(awakeMemory.rss),
      'PSS MB': mb(awakeMemory.pss),
      'versions per machine (MemAvailable / PSS)': Math.floor(available / awakeMemory.pss),
    },
    asleep: {
      processes: asleepMemory?.processes ?? NaN,
      'RSS MB': mb(asleepMemory?.rss ?? NaN),
      'PSS MB': mb(asleepMemory?.pss ?? NaN),
      'versions per machine (MemAvailable / PSS)': 'not bound by workloads',
    },
  });
  console.log(
    `MemAvailable ${mb(available)} MB; shared / a process per workload: RSS ${(awakeMemory.rss / ownMemory.rss).toFixed(2)}, PSS ${(awakeMemory.pss / ownMemory.pss).toFixed(2)}; target (issue #16) ≤ 150 MB RSS for the idle awake version: ${awakeMemory.rss <= 150 * 2 ** 20 ? 'met' : 'missed'}`,
  );
  await redis.quit();
} finally {
  for (const app of apps) app.kill('SIGTERM');
  await Promise.all(
    apps.map(
      (app) => new Promise((done) => (app.exitCode !== null ? done(null) : app.once('exit', done))),
    ),
  );
  // Workloads run in their own process groups: stop what the deployer left (by its marker).
  // Workloads run in their own process groups: stop what the deployer left.
  killWorkloads(join(work, 'state'));
  await services.stop();
  rmSync(work, { recursive: true, force: true });
}
