// The batching benchmark's node (bench/dataplane-batching.mjs): a model behind a device that
// takes one call at a time, each costing 5 ms plus 0.1 ms per item (a GPU, a remote model).
// `handler` calls it once per message; `handlerBatch` once per batch (the node's KRT `batch`).
// Node's timers truncate to whole milliseconds: 5 ms a call, 5 + ⌊0.1 × items⌋ ms a batch.
const FIXED_MS = 5;
const PER_ITEM_MS = 0.1;
let device = Promise.resolve();

function call(items) {
  const done = device.then(
    () => new Promise((resolve) => setTimeout(resolve, FIXED_MS + PER_ITEM_MS * items)),
  );
  device = done;
  return done;
}

export async function handler() {
  await call(1);
  return { size: 1 };
}

export async function handlerBatch(ctx, items) {
  await call(items.length);
  return items.map(() => ({ size: items.length }));
}
