// Adaptive batching (issue 16), `npm run bench:dataplane -- --only batching`: one node whose
// handler calls a model behind a device that takes one call at a time, each costing 5 ms plus
// 0.1 ms per item (bench/dataplane/batching: cost.mjs, cost.py), run by each runner unbatched
// (`handler` / `default_handler`, one call per message) and batched (KRT
// `batch: {maxSize, maxLatencyMs}`, one `handlerBatch` / `handler_batch` call per batch), in the
// same run: calls straight onto the workflow's stream from closed-loop clients, answered by the
// node (the exitpoint) on `kre-reply-to`. Prints req/s, p50/p99 latency and the mean batch per
// target, and batched / unbatched req/s per runner as a ratio.
//
//   npm run build && npm run bench:dataplane -- --only batching [--duration 5] [--concurrency 64]
//       [--batch 32,5]   # maxSize,maxLatencyMs
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { freePort, waitReady } from './processes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const krtDir = join(root, 'bench/dataplane/batching');
const dist = (path) => pathToFileURL(join(root, 'dist', path)).href;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));

/**
 * Runs the batching comparison.
 * @param args the bench's parsed options: duration (s), warmup (s), concurrency, python, batch.
 */
export async function runBatchingBench(args, python) {
  const durationMs = Number(args.duration) * 1000;
  const warmupMs = Number(args.warmup) * 1000;
  const concurrency = Number(args.concurrency.split(',').at(-1));
  const [maxSize, maxLatencyMs] = (args.batch ?? '32,5').split(',').map(Number);
  if (!(maxSize >= 1 && maxSize <= 1024 && maxLatencyMs >= 0 && maxLatencyMs <= 10_000)) {
    console.error('--batch: maxSize,maxLatencyMs with maxSize 1..1024 and maxLatencyMs 0..10000');
    process.exit(2);
  }
  const messaging = await import(dist('libs/messaging/src/index.js')).catch(() => {
    console.error('dist/ is missing: run `npm run build` first');
    process.exit(1);
  });
  const { Names } = await import(dist('libs/naming/src/index.js'));
  const { startNats } = await import(
    new URL('../libs/testing/src/services.ts', import.meta.url).href
  );

  const work = mkdtempSync(join(tmpdir(), 'kre-bench-batching-'));
  const children = [];
  const cleanup = async () => {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await natsServer?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  mkdirSync(join(work, 'nats'));
  const natsServer = await startNats(join(work, 'nats'));
  const NATS_URL = `nats://127.0.0.1:${natsServer.port}`;
  const nc = await messaging.connectNats({
    url: NATS_URL,
    credentials: natsServer.credentials,
    name: 'bench-batching',
  });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const names = new Names('bench');
  await messaging.provisionObservabilityStream(jsm, names, 'bench');
  const codec = new messaging.PayloadCodec();

  const targets = [
    { runner: 'js', batched: false },
    { runner: 'js', batched: true },
    { runner: 'python', batched: false },
    { runner: 'python', batched: true },
  ];
  for (const target of targets) {
    const workflow = `${target.runner === 'js' ? 'js' : 'py'}${target.batched ? 'batch' : 'one'}`;
    const wf = await messaging.provisionWorkflowStreams(jsm, names, 'bench', 'v1', {
      name: workflow,
      nodes: [{ name: 'model', subscriptions: [{ node: 'entrypoint' }] }],
    });
    const port = await freePort();
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'warn',
      KRE_PREFIX: 'bench',
      KRT_RUNTIME_ID: 'bench',
      KRT_VERSION: 'v1',
      KRT_VERSION_ID: 'bench:v1',
      KRT_NATS_SERVER: NATS_URL,
      KRT_NATS_CREDS: natsServer.credentials,
      KRT_NATS_INBOX_PREFIX: names.workloadInboxPrefix('bench', 'v1'),
      KRT_BASE_PATH: krtDir,
      KRT_NATS_OBS_PREFIX: names.obsPrefix('bench'),
      KRT_NATS_DATA_PREFIX: names.dataPrefix('bench'),
      KRT_HEALTH_PORT: String(port),
      KRT_WORKFLOW_NAME: workflow,
      KRT_NODE_NAME: 'model',
      KRT_NODE_ID: 'model',
      KRT_HANDLER_PATH: target.runner === 'js' ? 'cost.mjs' : 'cost.py',
      KRT_NATS_STREAM: wf.stream,
      KRT_NATS_INPUTS: wf.nodes.model.natsInputs,
      KRT_NATS_OUTPUT: wf.nodes.model.output,
      KRT_IS_EXITPOINT: 'true',
      ...(target.batched
        ? {
            KRT_BATCH_MAX_SIZE: String(maxSize),
            KRT_BATCH_MAX_LATENCY_MS: String(maxLatencyMs),
          }
        : {}),
    };
    const child =
      target.runner === 'js'
        ? spawn(process.execPath, [join(root, 'dist/apps/runner/src/main.js')], {
            env,
            stdio: ['ignore', 'ignore', 'inherit'],
          })
        : spawn(python, ['-s', '-P', '-m', 'kre_runner'], {
            env,
            cwd: krtDir,
            stdio: ['ignore', 'ignore', 'inherit'],
          });
    children.push(child);
    await waitReady(port, `${target.runner} runner`, child);
    target.subject = wf.entrySubject;
    target.name = `${target.runner} ${target.batched ? `batched (${maxSize}, ${maxLatencyMs} ms)` : 'unbatched'}`;
  }

  // Answers come to one inbox, matched by kre-request-id.
  const pending = new Map();
  const inbox = `bench.batching.reply.${process.pid}`;
  nc.subscribe(inbox, { callback: (_e, m) => pending.get(m.headers?.get('kre-request-id'))?.(m) });
  let seq = 0;
  const call = async (subject) => {
    const id = `r${++seq}`;
    const h = natsHeaders();
    h.set('kre-reply-to', inbox);
    h.set('kre-request-id', id);
    const data = messaging.encodeEnvelope({
      requestId: id,
      fromNode: 'entrypoint',
      messageType: messaging.MessageType.OK,
      payload: codec.pack({ n: seq }),
    });
    const answered = new Promise((resolve) => pending.set(id, resolve));
    try {
      await js.publish(subject, data, { headers: h });
      const answer = messaging.decodeEnvelope((await answered).data);
      if (answer.messageType !== messaging.MessageType.OK)
        throw new Error(`answer ${messaging.MessageType[answer.messageType]}: ${answer.error}`);
      return codec.unpack(answer.payload).size;
    } finally {
      pending.delete(id);
    }
  };
  /** `concurrency` closed-loop clients for `ms`: latencies and the batch each answer came in. */
  const measure = async (subject, ms) => {
    const end = performance.now() + ms;
    const latencies = [];
    const sizes = [];
    let errors = 0;
    const worker = async () => {
      while (performance.now() < end) {
        const started = performance.now();
        try {
          sizes.push(await call(subject));
          latencies.push(performance.now() - started);
        } catch (error) {
          errors++;
          if (errors === 1) console.error(`  ${error.message}`);
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const took = performance.now() - t0;
    latencies.sort((a, b) => a - b);
    return {
      rps: latencies.length / (took / 1000),
      answered: latencies.length,
      errors,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      meanBatch: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
    };
  };

  try {
    console.log(
      `\nbatching benchmark: one node, a device taking one call at a time (5 ms + 0.1 ms per item), ${concurrency} clients, ${durationMs / 1000} s per target (after ${warmupMs / 1000} s warm-up)\n`,
    );
    console.log(
      `${'target'.padEnd(32)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'mean batch'.padStart(11)} ${'answered'.padStart(9)} ${'errors'.padStart(7)}`,
    );
    for (const target of targets) {
      await measure(target.subject, warmupMs);
      target.result = await measure(target.subject, durationMs);
      const r = target.result;
      console.log(
        `${target.name.padEnd(32)} ${fmt(r.rps, 0).padStart(8)} ${fmt(r.p50, 1).padStart(8)} ${fmt(r.p99, 1).padStart(8)} ${fmt(r.meanBatch, 1).padStart(11)} ${String(r.answered).padStart(9)} ${String(r.errors).padStart(7)}`,
      );
    }
    console.log('');
    for (const runner of ['js', 'python']) {
      const [one, batched] = [false, true].map(
        (b) => targets.find((t) => t.runner === runner && t.batched === b).result,
      );
      console.log(
        `  ${runner}: batched / unbatched req/s × ${fmt(batched.rps / one.rps)}, p50 × ${fmt(batched.p50 / one.p50)} (mean batch ${fmt(batched.meanBatch, 1)}; the device alone allows ${fmt(1000 / 5.1, 0)} calls/s unbatched, ${fmt((maxSize * 1000) / (5 + 0.1 * maxSize), 0)} items/s in full batches)`,
      );
    }
    const failed = targets.filter((t) => t.result.errors > 0);
    if (failed.length) {
      console.error(`\nerrors in: ${failed.map((t) => t.name).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await nc.close();
    await cleanup();
  }
}
