// Labels the ticket. The branch: urgent tickets go out on the `urgent` channel only (to the
// escalation node); the others go straight to the reply node on the default output.
const URGENT = ['outage', 'down', 'security', 'breach', 'urgent'];
const LABELS = [
  ['billing', ['invoice', 'refund', 'charge', 'payment']],
  ['account', ['password', 'login', 'sign in', 'account']],
];

export async function handler(ctx, data) {
  const label =
    LABELS.find(([, words]) => words.some((w) => data.text.includes(w)))?.[0] ?? 'general';
  const ticket = { id: data.id, label };
  if (URGENT.some((w) => data.text.includes(w))) {
    await ctx.sendOutput(ticket, { channel: 'urgent' });
    return undefined; // nothing on the default output
  }
  return { ...ticket, escalated: false, team: '' };
}
