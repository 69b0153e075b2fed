// "Make Greeting": reads the version's config variable GREETING (set after upload).
export async function handler(ctx, data) {
  const greeting = ctx.config.get('GREETING') || 'Hello';
  return { text: `${greeting}, ${data.name}!` };
}
