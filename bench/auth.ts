/**
 * Benchmark of admin-api authentication. Run with `npx node bench/auth.ts` after `npm run build`
 * (plain Node 24, which strips this file's types). Options: `--duration S` (default 10),
 * `--connections N` (default 50), `--signins N` (default 200 per address).
 *
 * Starts private Redis, NATS, FerretDB and Mailpit (as the test tiers do) and the built
 * admin-api in production mode, signs the admin in through the emailed link, makes an API
 * token, then measures with autocannon, in one run on one machine:
 *   - GET /livez and GET /health (the baselines: no GraphQL, no authentication);
 *   - POST /graphql `{ __typename }` without credentials (GraphQL without a resolver or guard);
 *   - POST /graphql `{ me { id } }` with `Authorization: Bearer <token>` (guard: checksum,
 *     token by _id, user by _id; resolver: user by _id).
 * `me` minus `__typename` bounds the token check from above (it includes me's own lookup).
 * Then POST /api/v1/auth/signin for a known and an unknown address, alternating, one at a time:
 * the goal is no measurable difference (the work happens after the answer).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    signins: { type: 'string', default: '200' },
  },
});
const duration = Number(options.duration);
const connections = Number(options.connections);
const signins = Number(options.signins);

const main = `${root}dist/apps/admin-api/src/main.js`;
if (!existsSync(main)) {
  console.error(`${main} does not exist: run \`npm run build\` first`);
  process.exit(1);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const { startServices, freePort } = (await import(
  new URL('../libs/testing/src/services.ts', import.meta.url).href
)) as typeof import('../libs/testing/src/services.js');
const { BENCH_ADMIN, benchAppEnv } = (await import(
  new URL('./harness.ts', import.meta.url).href
)) as typeof import('./harness.js');

console.log('starting Redis, NATS, FerretDB and Mailpit…');
const services = await startServices();
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const admin = BENCH_ADMIN;
const app = spawn(process.execPath, [main], {
  cwd: root,
  env: {
    ...benchAppEnv({ ...services.urls }),
    ADMIN_API_PORT: String(port),
    FRONTEND_URL: url,
    THROTTLE_SIGNIN_PER_EMAIL: '1000000/1h',
    THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS: '1000000/1h',
    THROTTLE_SIGNIN_PER_IP: '1000000/1h',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const stop = async () => {
  app.kill('SIGTERM');
  await new Promise((resolve) => app.once('exit', resolve));
  await services.stop();
};

try {
  for (let i = 0; ; i++) {
    if (i > 300) throw new Error('admin-api did not start');
    if (
      await fetch(`${url}/livez`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // Sign in as a person does: request, read the mail, verify.
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  await post('/api/v1/auth/signin', { email: admin });
  let token = '';
  for (let i = 0; !token; i++) {
    if (i > 100) throw new Error('no sign-in mail');
    const search = await fetch(`${services.urls.MAILPIT_URL}/api/v1/search?query=to:${admin}`);
    const { messages } = (await search.json()) as { messages: { ID: string }[] };
    if (messages.length) {
      const message = await fetch(`${services.urls.MAILPIT_URL}/api/v1/message/${messages[0].ID}`);
      token = /#([A-Za-z0-9_-]{43})/.exec(((await message.json()) as { Text: string }).Text)![1];
    } else await new Promise((r) => setTimeout(r, 100));
  }
  const verified = await post('/api/v1/auth/signin/verify', { token });
  const cookie = verified.headers.getSetCookie()[0].split(';')[0];
  const generated = await post(
    '/graphql',
    { query: 'mutation { generateApiToken(input: {name: "bench", expiresInDays: 1}) { token } }' },
    { cookie },
  );
  const apiToken = ((await generated.json()) as { data: { generateApiToken: { token: string } } })
    .data.generateApiToken.token;

  const run = async (
    title: string,
    path: string,
    request: Omit<autocannon.Options, 'url'> = {},
  ) => {
    const result = await autocannon({ ...request, url: `${url}${path}`, connections, duration });
    const failures = result.non2xx + result.errors + result.timeouts;
    return {
      title,
      'req/s': Math.round(result.requests.average),
      'p50 ms': result.latency.p50,
      'p99 ms': result.latency.p99,
      failures,
    };
  };
  const graphql = (query: string, headers: Record<string, string> = {}) => ({
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });

  console.log(`\nautocannon: ${connections} connections, ${duration} s each`);
  const rows = [
    await run('GET /livez', '/livez'),
    await run('GET /health', '/health'),
    await run('{ __typename } (anonymous)', '/graphql', graphql('{ __typename }')),
    await run(
      '{ me { id } } (Bearer token)',
      '/graphql',
      graphql('{ me { id } }', { authorization: `Bearer ${apiToken}` }),
    ),
  ];
  console.table(rows);
  console.log(
    `me − __typename at p50: ${(rows[3]['p50 ms'] - rows[2]['p50 ms']).toFixed(2)} ms (token check + me's own user lookup, under ${connections}-way load)`,
  );

  // One request at a time, timed here (sub-millisecond): what one call costs without queueing.
  // The token path reads the database once (me's own user; the verified token is cached); the
  // cookie path three times (session, user, me's user). So one read ≈ (cookie − token) / 2 and
  // the token check ≈ token − __typename − one read.
  const sequential = async (body: string, headers: Record<string, string>) => {
    const times: number[] = [];
    for (let i = 0; i < 500; i++) {
      const started = performance.now();
      await (await post('/graphql', JSON.parse(body), headers)).text();
      times.push(performance.now() - started);
    }
    return percentile(times, 50);
  };
  const typename = await sequential('{"query":"{ __typename }"}', {});
  const viaToken = await sequential('{"query":"{ me { id } }"}', {
    authorization: `Bearer ${apiToken}`,
  });
  const viaCookie = await sequential('{"query":"{ me { id } }"}', { cookie });
  const read = (viaCookie - viaToken) / 2;
  console.log('\none request at a time, 500 each, p50:');
  console.table([
    { request: '{ __typename } (anonymous)', 'p50 ms': Number(typename.toFixed(2)) },
    { request: '{ me { id } } (Bearer token)', 'p50 ms': Number(viaToken.toFixed(2)) },
    { request: '{ me { id } } (session cookie)', 'p50 ms': Number(viaCookie.toFixed(2)) },
  ]);
  console.log(
    `one _id read ≈ ${read.toFixed(2)} ms; token check ≈ ${(viaToken - typename - read).toFixed(2)} ms (estimate)`,
  );

  // Sign-in requests for a known and an unknown address, alternating, one at a time.
  const timings: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
  for (let i = 0; i < signins; i++) {
    for (const kind of ['known', 'unknown'] as const) {
      const email = kind === 'known' ? admin : `nobody${i}@bench.test`;
      const started = performance.now();
      const response = await post('/api/v1/auth/signin', { email });
      await response.text();
      timings[kind].push(performance.now() - started);
      if (response.status !== 202) throw new Error(`signin: ${response.status}`);
    }
  }
  console.log(`\nPOST /api/v1/auth/signin, ${signins} each, alternating`);
  console.table(
    Object.entries(timings).map(([address, values]) => ({
      address,
      'p50 ms': Number(percentile(values, 50).toFixed(2)),
      'p90 ms': Number(percentile(values, 90).toFixed(2)),
      'p99 ms': Number(percentile(values, 99).toFixed(2)),
    })),
  );
  console.log(
    `median known − unknown: ${(percentile(timings.known, 50) - percentile(timings.unknown, 50)).toFixed(2)} ms`,
  );
} finally {
  await stop();
}
