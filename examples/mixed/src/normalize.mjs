// normalize (JavaScript): the typed request (mixed.Order, as a plain object with defaults) in,
// a plain object out, which reaches the Python node as a google.protobuf.Struct.
export function handler(ctx, order) {
  const lines = order.lines
    .filter((line) => line.quantity > 0)
    .map((line) => ({
      sku: line.sku.trim().toUpperCase(),
      quantity: line.quantity,
      unitCents: line.unitCents,
    }));
  return {
    customer: order.customer.trim().replace(/\s+/g, ' '),
    coupon: order.coupon.trim().toUpperCase(),
    lines,
    path: [`normalize (js, ${order.lines.length} lines)`],
  };
}
