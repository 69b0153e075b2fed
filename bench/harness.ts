import { randomBytes } from 'node:crypto';

/** The admin every bench signs in as. */
export const BENCH_ADMIN = 'admin@bench.test';

/**
 * The env the benches start our apps with, as in production (JSON logs, warnings only), on the
 * bench's private services; each bench adds the apps' ports.
 */
export function benchAppEnv(serviceUrls: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...serviceUrls,
    KRE_PREFIX: 'bench',
    NODE_ENV: 'production',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_EMAIL: BENCH_ADMIN,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * For the benches: signs `email` in through the mail (Mailpit) and creates an API token, as a
 * person would. Returns the `authorization` header. Plain TypeScript that Node runs directly.
 */
export async function benchApiToken(
  api: string,
  mailpitUrl: string,
  email: string,
): Promise<{ authorization: string }> {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  await post('/api/v1/auth/signin', { email });
  let link = '';
  for (let i = 0; !link; i++) {
    if (i > 100) throw new Error(`no sign-in mail for ${email}`);
    const { messages } = (await (
      await fetch(`${mailpitUrl}/api/v1/search?query=to:${email}`)
    ).json()) as { messages: { ID: string }[] };
    if (messages.length) {
      const { Text } = (await (
        await fetch(`${mailpitUrl}/api/v1/message/${messages[0].ID}`)
      ).json()) as { Text: string };
      link = /#([A-Za-z0-9_-]{43})/.exec(Text)?.[1] ?? '';
    } else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const cookie = (await post('/api/v1/auth/signin/verify', { token: link })).headers
    .getSetCookie()[0]
    .split(';')[0];
  const body = (await (
    await post(
      '/graphql',
      {
        query: 'mutation { generateApiToken(input: {name: "bench", expiresInDays: 1}) { token } }',
      },
      { cookie },
    )
  ).json()) as { data?: { generateApiToken: { token: string } }; errors?: unknown };
  if (!body.data) throw new Error(`generateApiToken: ${JSON.stringify(body.errors)}`);
  return { authorization: `Bearer ${body.data.generateApiToken.token}` };
}
