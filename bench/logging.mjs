// Logging cost benchmark (issue 15): what `ctx.logger` costs a handler, in both runners.
// - one log call: a handler times each of --lines `ctx.logger.info(...)` calls (the whole path:
//   the record built, encoded and handed to NATS, and the JSON line written to stdout, which the
//   local driver points at the replica's log file as here); p50 and p99 in µs (target p50 ≤ 20).
// - slowdown: a 50 ms handler that first logs --lines lines per request ("loud") against the same
//   handler logging nothing ("quiet"), through the version's entrypoint (HTTP), the two
//   interleaved request by request, one at a time; the ratio of their median latencies (target
//   ≤ 10 % slower).
// Every log record really goes out: NATS stores it in the runtime's observability stream.
//
//   npm run build && npm run bench:logging -- [--requests 40] [--lines 1000] [--only js|python]
//
// Starts its own nats-server (libs/testing), one runner of each kind and an entrypoint per runner,
// from dist/ and runners/python (the dev venv, runners/python/scripts/venv.sh, or --python).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, waitReady } from './processes.mjs';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '40' },
    lines: { type: 'string', default: '1000' },
    /** The Python that runs runners/python (a venv with the package installed). */
    python: { type: 'string' },
    /** Only one runner: `js` or `python`. */
    only: { type: 'string' },
  },
});
const REQUESTS = Number(args.requests);
const LINES = Number(args.lines);
if (args.only !== undefined && !['js', 'python'].includes(args.only)) {
  console.error(`--only: "${args.only}" is not a runner (js, python)`);
  process.exit(2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (path) => pathToFileURL(join(root, 'dist', path)).href;
const messaging = await import(dist('libs/messaging/src/index.js')).catch(() => {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
});
const { Names } = await import(dist('libs/naming/src/index.js'));
const krtDir = join(root, 'bench/logging/krt');
const work = mkdtempSync(join(tmpdir(), 'kre-bench-logging-'));
const children = [];
let stopping = false;

/** Starts a process with its output in a log file, as the local driver does. */
function start(name, command, argv, env, cwd) {
  const log = openSync(join(work, `${name}.log`), 'a');
  const child = spawn(command, argv, {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`${name} ended (${code ?? signal}): see ${work}/${name}.log`);
  });
  children.push(child);
  return child;
}

async function cleanup() {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await natsServer?.stop();
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

// --- NATS, streams, runners and entrypoints ---------------------------------------------------
const { startNats } = await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
);
mkdirSync(join(work, 'nats'));
const natsServer = await startNats(join(work, 'nats'));
const NATS_URL = `nats://127.0.0.1:${natsServer.port}`;
const NATS_CREDS = natsServer.credentials;
const nc = await messaging.connectNats({ url: NATS_URL, credentials: NATS_CREDS, name: 'bench' });
const jsm = await jetstreamManager(nc);
const prefix = 'bench';
const names = new Names(prefix);
await messaging.provisionObservabilityStream(jsm, names, 'bench');
const workload = {
  KRE_PREFIX: prefix,
  KRT_RUNTIME_ID: 'bench',
  KRT_VERSION: 'v1',
  KRT_VERSION_ID: 'bench:v1',
  KRT_NATS_SERVER: NATS_URL,
  KRT_NATS_CREDS: NATS_CREDS,
  KRT_NATS_INBOX_PREFIX: names.workloadInboxPrefix('bench', 'v1'),
  KRT_BASE_PATH: krtDir,
  KRT_ENTRYPOINT_PROTO: 'log.proto',
  KRT_NATS_OBS_PREFIX: names.obsPrefix('bench'),
  KRT_NATS_DATA_PREFIX: names.dataPrefix('bench'),
};

const python = () =>
  args.python
    ? resolve(args.python)
    : join(
        execFileSync(join(root, 'runners/python/scripts/venv.sh'), {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        }).trim(),
        'bin/python',
      );

/** One runner (`js` or `python`) on a one-node workflow, and its entrypoint's HTTP address. */
async function startRunner(kind) {
  const workflow = `log${kind === 'js' ? 'js' : 'py'}`;
  const streams = await messaging.provisionWorkflowStreams(jsm, names, 'bench', 'v1', {
    name: workflow,
    nodes: [{ name: 'n', subscriptions: [{ node: 'entrypoint' }] }],
  });
  const port = await freePort();
  const env = {
    ...workload,
    KRT_HEALTH_PORT: String(port),
    KRT_WORKFLOW_NAME: workflow,
    KRT_NODE_NAME: 'n',
    KRT_NODE_ID: 'n',
    KRT_HANDLER_PATH: kind === 'js' ? 'src/log.mjs' : 'src/log.py',
    KRT_NATS_STREAM: streams.stream,
    KRT_NATS_INPUTS: streams.nodes.n.natsInputs,
    KRT_NATS_OUTPUT: streams.nodes.n.output,
    KRT_IS_EXITPOINT: 'true',
  };
  const runner =
    kind === 'js'
      ? start(`runner-${kind}`, process.execPath, [join(root, 'dist/apps/runner/src/main.js')], env)
      : start(`runner-${kind}`, python(), ['-s', '-P', '-m', 'kre_runner'], env, krtDir);
  await waitReady(port, `${kind} runner`, runner, 120_000);
  const [health, grpc, http] = [await freePort(), await freePort(), await freePort()];
  const entrypoint = start(
    `entrypoint-${kind}`,
    process.execPath,
    [join(root, 'dist/apps/entrypoint/src/main.js')],
    {
      ...workload,
      KRT_LISTEN_HOST: '127.0.0.1',
      KRT_HEALTH_PORT: String(health),
      KRT_GRPC_PORT: String(grpc),
      KRT_HTTP_PORT: String(http),
      KRT_ENTRYPOINT_ROUTES: JSON.stringify({
        Run: { workflow, stream: streams.stream, subject: streams.entrySubject },
      }),
    },
  );
  await waitReady(health, `${kind} entrypoint`, entrypoint, 120_000);
  return `127.0.0.1:${http}`;
}

// --- measuring ---------------------------------------------------------------------------------
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One call of the rpc; resolves with its latency in ms and the answer. */
function call(address, body) {
  const [host, port] = address.split(':');
  const data = JSON.stringify(body);
  const started = performance.now();
  return new Promise((done, fail) => {
    const req = request(
      {
        host,
        port,
        method: 'POST',
        path: '/Run',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          if (res.statusCode !== 200) fail(new Error(`HTTP ${res.statusCode}: ${text}`));
          else done({ ms: performance.now() - started, answer: JSON.parse(text) });
        });
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const fmt = (n, digits = 1) => n.toFixed(digits);

async function measure(kind, address) {
  // Warm-up: JIT, connections, the stream's first writes.
  for (let i = 0; i < 3; i++) {
    await call(address, { mode: 'quiet', lines: LINES });
    await call(address, { mode: 'loud', lines: LINES });
    await call(address, { mode: 'percall', lines: LINES });
  }
  // One log call, timed inside the handler: 5 requests of LINES calls each, the median request.
  const percall = [];
  for (let i = 0; i < 5; i++)
    percall.push((await call(address, { mode: 'percall', lines: LINES })).answer);
  percall.sort((a, b) => a.p50Us - b.p50Us);
  const one = percall[2];

  // Sequential, interleaved quiet / loud.
  const quiet = [];
  const loud = [];
  for (let i = 0; i < REQUESTS; i++) {
    quiet.push((await call(address, { mode: 'quiet', lines: LINES })).ms);
    loud.push((await call(address, { mode: 'loud', lines: LINES })).ms);
  }
  const q = median(quiet);
  const l = median(loud);
  return {
    kind,
    oneP50: one.p50Us,
    oneP99: one.p99Us,
    oneMean: one.meanUs,
    timer: one.timerUs,
    quiet: q,
    loud: l,
    slowdown: l / q - 1,
  };
}

const kinds = args.only ? [args.only] : ['js', 'python'];
const results = [];
try {
  for (const kind of kinds) results.push(await measure(kind, await startRunner(kind)));
  const stored = (await jsm.streams.info(names.obsStream('bench'))).state.messages;
  console.log(
    `\nbench:logging: ${LINES} lines per loud request, ${REQUESTS} requests of each mode in turn, one at a time; ${stored} log records stored in the runtime's stream\n`,
  );
  console.log(
    '| runner | one call p50 µs (target ≤ 20) | p99 µs | mean µs | 50 ms handler, median ms quiet / loud | slowdown (target ≤ 10 %) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of results)
    console.log(
      `| ${r.kind} | ${fmt(r.oneP50, 2)} | ${fmt(r.oneP99, 2)} | ${fmt(r.oneMean, 2)} | ${fmt(r.quiet)} / ${fmt(r.loud)} | ${fmt(r.slowdown * 100)} % |`,
    );
  console.log(
    `\n(timer overhead per measured call, subtracted from nothing: ${results.map((r) => `${r.kind} ${fmt(r.timer, 3)} µs`).join(', ')})`,
  );
} finally {
  await nc.close();
  await cleanup();
}
