import type { INestApplication, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getConnectionToken } from '@nestjs/mongoose';
import { CLOCK, ManualClock } from '@libs/core';
import { loadEnv } from '@libs/config';
import { freePort, testEnv } from '@libs/testing';
import type { Connection } from 'mongoose';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type AdminApiEnv, adminApiEnvSchema, authConfig } from '../src/admin-api.env.js';
import { AdminApiModule, configureAdminApi } from '../src/admin-api.module.js';
import { SignInService } from '../src/auth/sign-in.service.js';

/** Every line the app logged (tests assert that no secret is among them). */
export class CapturedLogs implements LoggerService {
  readonly lines: string[] = [];
  private add(level: string, message: unknown, rest: unknown[]) {
    this.lines.push(`${level} ${String(message)} ${rest.map((r) => String(r)).join(' ')}`);
  }
  log(message: unknown, ...rest: unknown[]) {
    this.add('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.add('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.add('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.add('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.add('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.add('fatal', message, rest);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  headers: Headers;
}

export interface Auth {
  /** A session id (sent as the session cookie). */
  session?: string;
  /** An API token (sent as `Authorization: Bearer`). */
  token?: string;
  headers?: Record<string, string>;
}

/** admin-api in this process, on a free port, against the real test services. */
export class Harness {
  readonly seenMail = new Set<string>();

  private constructor(
    readonly app: INestApplication,
    readonly env: AdminApiEnv,
    readonly url: string,
    readonly clock: ManualClock,
    readonly logs: CapturedLogs,
  ) {}

  static async start(overrides: Record<string, string> = {}): Promise<Harness> {
    const port = await freePort();
    const base = testEnv();
    const env = loadEnv('admin-api', adminApiEnvSchema, {
      ...base,
      ADMIN_API_PORT: String(port),
      FRONTEND_URL: `http://127.0.0.1:${port}`,
      ADMIN_EMAIL: `admin@${base.KRE_PREFIX}.test`,
      // Generous limits, so only the rate-limit tests meet them.
      THROTTLE_SIGNIN_PER_EMAIL: '1000/1h',
      THROTTLE_SIGNIN_PER_EMAIL_ALL_CLIENTS: '1000/1h',
      THROTTLE_SIGNIN_PER_IP: '1000/1h',
      THROTTLE_VERIFY_PER_IP: '1000/1m',
      ...overrides,
    });
    const clock = new ManualClock(new Date());
    const logs = new CapturedLogs();
    const moduleRef = await Test.createTestingModule({ imports: [AdminApiModule.forRoot(env)] })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    const app = moduleRef.createNestApplication({ logger: logs });
    configureAdminApi(app, env);
    app.enableShutdownHooks();
    await app.listen(port, '127.0.0.1');
    return new Harness(app, env, `http://127.0.0.1:${port}`, clock, logs);
  }

  get mailpit(): string {
    return (testEnv() as { MAILPIT_URL: string }).MAILPIT_URL;
  }

  get cookieName(): string {
    return authConfig(this.env).cookieName;
  }

  get adminEmail(): string {
    return this.env.ADMIN_EMAIL;
  }

  /** A unique address in this test file's namespace. */
  email(name: string): string {
    return `${name}-${Math.random().toString(36).slice(2, 8)}@${this.env.KRE_PREFIX}.test`;
  }

  connection(): Connection {
    return this.app.get<Connection>(getConnectionToken());
  }

  get<T>(token: abstract new (...args: never[]) => T): T {
    return this.app.get(token);
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }

  /** Asks for a link and waits until the app has handled the request (mail sent or not). */
  async requestLink(email: string, headers: Record<string, string> = {}): Promise<Response> {
    const response = await this.post('/api/v1/auth/signin', { email }, headers);
    await this.get(SignInService).idle();
    return response;
  }

  /** The token of the next mail to `email` that this harness has not read yet. */
  async nextLinkToken(email: string, timeoutMs = 10_000): Promise<string> {
    const mail = await this.nextMail(email, timeoutMs);
    const match = /\/signin#([A-Za-z0-9_-]{43})/.exec(mail.Text);
    if (!match) throw new Error(`no sign-in link in the mail:\n${mail.Text}`);
    return match[1];
  }

  async nextMail(
    to: string,
    timeoutMs = 10_000,
  ): Promise<{ ID: string; Subject: string; Text: string; HTML: string }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const search = await fetch(
        `${this.mailpit}/api/v1/search?query=${encodeURIComponent(`to:"${to}"`)}&limit=50`,
      );
      const { messages } = (await search.json()) as { messages: { ID: string }[] };
      const fresh = messages.filter((m) => !this.seenMail.has(m.ID)).at(-1); // oldest unread
      if (fresh) {
        this.seenMail.add(fresh.ID);
        const message = await fetch(`${this.mailpit}/api/v1/message/${fresh.ID}`);
        return (await message.json()) as {
          ID: string;
          Subject: string;
          Text: string;
          HTML: string;
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no new mail to ${to} within ${timeoutMs} ms`);
  }

  /** How many mails `to` has received in all. */
  async mailCount(to: string): Promise<number> {
    const search = await fetch(
      `${this.mailpit}/api/v1/search?query=${encodeURIComponent(`to:"${to}"`)}&limit=1`,
    );
    return ((await search.json()) as { messages_count: number }).messages_count;
  }

  async verify(token: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.post('/api/v1/auth/signin/verify', { token }, headers);
  }

  /** The session id a response set, from its Set-Cookie header. */
  sessionFrom(response: Response): string {
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${this.cookieName}=`));
    if (!cookie)
      throw new Error(
        `no session cookie in ${response.status} ${JSON.stringify(response.headers.getSetCookie())}`,
      );
    return decodeURIComponent(cookie.slice(this.cookieName.length + 1).split(';')[0]);
  }

  /** The whole sign-in through HTTP and SMTP: request, read the mail, verify. */
  async signIn(email: string): Promise<string> {
    const requested = await this.requestLink(email);
    if (requested.status !== 202) throw new Error(`sign-in request: ${requested.status}`);
    const verified = await this.verify(await this.nextLinkToken(email));
    if (verified.status !== 200)
      throw new Error(`verify: ${verified.status} ${await verified.text()}`);
    return this.sessionFrom(verified);
  }

  /** A user created by the admin, not signed in yet (no link requested for it). */
  async createUser(
    name: string,
    platformRole: 'ADMIN' | 'USER' = 'USER',
    admin?: string,
  ): Promise<{ id: string; email: string }> {
    const adminSession = admin ?? (await this.signIn(this.adminEmail));
    const email = this.email(name);
    const created = await this.gql<{ createUser: { id: string } }>(
      'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { email, platformRole } },
      { session: adminSession },
    );
    if (!created.data) throw new Error(JSON.stringify(created.errors));
    return { id: created.data.createUser.id, email };
  }

  /** A user with a role, signed in: created by the admin, then through the real sign-in. */
  async user(
    name: string,
    platformRole: 'ADMIN' | 'USER' = 'USER',
    admin?: string,
  ): Promise<{ id: string; email: string; session: string }> {
    const created = await this.createUser(name, platformRole, admin);
    return { ...created, session: await this.signIn(created.email) };
  }

  authHeaders(auth: Auth = {}): Record<string, string> {
    return {
      ...(auth.session ? { cookie: `${this.cookieName}=${auth.session}` } : {}),
      ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}),
      ...auth.headers,
    };
  }

  async gql<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    auth: Auth = {},
  ): Promise<GqlResult<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.authHeaders(auth) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as Omit<GqlResult<T>, 'status' | 'headers'>;
    return { status: response.status, headers: response.headers, ...body };
  }

  /** A graphql-ws client (lazy: false, so connection_init happens at once). */
  ws(options: { auth?: Auth; connectionParams?: Record<string, unknown>; origin?: string } = {}): {
    client: Client;
    closed: Promise<{ code: number; reason: string }>;
  } {
    let closedWith: (event: { code: number; reason: string }) => void = () => undefined;
    const closed = new Promise<{ code: number; reason: string }>(
      (resolve) => (closedWith = resolve),
    );
    const headers = {
      ...this.authHeaders(options.auth ?? {}),
      ...(options.origin ? { origin: options.origin } : {}),
    };
    delete (headers as Record<string, string>).authorization; // tokens go in connectionParams
    const client = createClient({
      url: `${this.url.replace('http', 'ws')}/graphql`,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => undefined, // surfaced through `closed`
      connectionParams: options.connectionParams,
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers });
        }
      },
      on: { closed: (event) => closedWith(event as { code: number; reason: string }) },
    });
    return { client, closed };
  }
}

/** The first value of a subscription, or the error that ended it. */
export function firstEvent<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): { value: Promise<T>; started: Promise<void> } {
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const value = new Promise<T>((resolve, reject) => {
    const dispose = client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          dispose();
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
          else resolve(result.data as T);
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => reject(new Error('completed without a value')),
      },
    );
    client.on('connected', () => onStarted());
  });
  return { value, started };
}
