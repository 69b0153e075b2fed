// reply (JavaScript), the exitpoint: the Struct from the Python node in (a plain object), the
// rpc's answer out (mixed.QuoteReply, converted by the entrypoint from this object).
export function handler(ctx, quote) {
  return { ...quote, path: [...quote.path, `reply (js, ${typeof quote.totalCents})`] };
}
