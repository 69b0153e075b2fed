// discount (JavaScript): the typed mixed.Priced from the Python node in (a plain object, defaults
// filled in), a typed mixed.Discounted out (sendOutput names the type).
const COUPONS = { SAVE10: 0.1, HALF: 0.5 };

export async function handler(ctx, priced) {
  const rate = COUPONS[priced.coupon] ?? 0;
  const discountCents = Math.round(priced.subtotalCents * rate);
  await ctx.sendOutput(
    {
      customer: priced.customer,
      items: priced.items,
      subtotalCents: priced.subtotalCents,
      discountCents,
      totalCents: priced.subtotalCents - discountCents,
      path: [...priced.path, `discount (js, coupon "${priced.coupon}")`],
    },
    { type: 'mixed.Discounted' },
  );
}
