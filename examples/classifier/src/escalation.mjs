// Only urgent tickets arrive here (subscription `classifier.urgent`).
export async function handler(ctx, data) {
  ctx.logger.warn('ticket escalated', { id: data.id });
  return { ...data, escalated: true, team: 'on-call' };
}
