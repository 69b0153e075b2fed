// bench/logging.mjs's node, JavaScript: a 50 ms handler that logs nothing ("quiet") or `lines`
// ctx.logger lines first ("loud"); "percall" times each of `lines` log calls.
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const LINE = 'scored the request: label=cat, confidence=0.93';

function percentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 1000;
  return {
    p50Us: at(0.5),
    p99Us: at(0.99),
    meanUs: (samples.reduce((a, b) => a + b, 0) / samples.length) * 1000,
  };
}

export async function handler(ctx, data) {
  const lines = Number(data.lines ?? 1000);
  if (data.mode === 'loud') for (let i = 0; i < lines; i++) ctx.logger.info(LINE);
  if (data.mode === 'percall') {
    const calls = new Array(lines);
    const empty = new Array(lines);
    for (let i = 0; i < lines; i++) {
      const start = performance.now();
      ctx.logger.info(LINE);
      calls[i] = performance.now() - start;
    }
    for (let i = 0; i < lines; i++) {
      const start = performance.now();
      empty[i] = performance.now() - start;
    }
    return { ...percentiles(calls), timerUs: percentiles(empty).p50Us };
  }
  await sleep(50);
  return { mode: data.mode };
}
