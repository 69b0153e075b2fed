// A pass-through node: the benchmark measures the framework, not the handler.
export const handler = (_ctx, data) => data;
