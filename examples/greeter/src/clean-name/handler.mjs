// "Clean Name": the first node; it receives the GreetRequest as a plain object.
export async function handler(ctx, data) {
  const name = String(data.name ?? '')
    .trim()
    .replace(/\s+/g, ' ');
  ctx.logger.info('name cleaned', { length: name.length });
  return { name: name || 'stranger' };
}
