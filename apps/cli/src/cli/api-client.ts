import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Credentials } from './config-store.js';
import { CliError, EXIT, exitCodeOf } from './exit-codes.js';

/** One finding of a KRT the server refused (the KRT_INVALID shape, as `kre krt validate`). */
export interface RemoteIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
  severity?: string;
}

interface GraphqlError {
  message: string;
  extensions?: { code?: string; reason?: string; [key: string]: unknown };
}

/** "fetch failed" says nothing: the cause (ECONNREFUSED, ENOTFOUND, …) does. */
export function unreachable(what: string, url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(
    `cannot reach ${what} at ${url} (${why}): is it running? Check the URL (--api, KRE_API or kre login --api)`,
    EXIT.unreachable,
  );
}

/** What to do after each kind of refusal, appended to the server's message. */
function hint(code: string | undefined, reason: string | undefined): string {
  if (code === 'UNAUTHENTICATED') {
    return ': sign in again (kre login --email <address>, or kre login --token)';
  }
  if (reason === 'SESSION_REQUIRED') return ': sign in with kre login --email, then retry';
  if (reason === 'RECENT_SIGN_IN_REQUIRED') return '';
  return '';
}

/** A started `kre login` grant (POST /api/v1/cli-login). */
export interface CliLoginGrant {
  deviceCode: string;
  userCode: string;
  expiresAt: string;
  /** Seconds between polls. */
  interval: number;
}

export type CliLoginPoll =
  | { status: 'pending'; expiresAt: string }
  | { status: 'approved'; cookie: string; expiresAt: string; user: { id: string; email: string } };

/** The admin API over HTTP: GraphQL, the REST sign-in and the KRT upload. */
export class ApiClient {
  readonly api: string;

  constructor(
    api: string,
    private readonly credentials?: Credentials,
  ) {
    this.api = api.replace(/\/+$/, '');
  }

  private authHeaders(): Record<string, string> {
    if (!this.credentials) return {};
    return this.credentials.type === 'token'
      ? { authorization: `Bearer ${this.credentials.token}` }
      : // A cookie-authenticated upload needs this header (the server's CSRF check).
        { cookie: this.credentials.cookie, 'x-requested-with': 'kre-cli' };
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.api}${path}`, {
        ...init,
        headers: { ...this.authHeaders(), ...(init.headers as Record<string, string>) },
      });
    } catch (error) {
      throw unreachable('the KRE API', this.api, error);
    }
  }

  /** A query or mutation; the first error becomes a CliError with the matching exit code. */
  async graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await this.send('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json().catch(() => null)) as {
      data?: T | null;
      errors?: GraphqlError[];
    } | null;
    if (!body) {
      throw new CliError(
        `the KRE API at ${this.api} answered HTTP ${response.status} without a GraphQL body: is --api the admin API?`,
        response.status === 401 ? EXIT.unauthenticated : EXIT.failed,
      );
    }
    const error = body.errors?.[0];
    if (error || !body.data) {
      const code = error?.extensions?.code;
      const details = { ...(error?.extensions ?? {}) };
      throw new CliError(
        `${error?.message ?? `HTTP ${response.status}`}${hint(code, error?.extensions?.reason)}`,
        exitCodeOf(code),
        code ?? 'FAILED',
        details,
      );
    }
    return body.data;
  }

  /** REST calls: a JSON body in, the JSON answer out, `{code, message}` errors mapped. */
  async rest<T>(
    path: string,
    body?: unknown,
    init: RequestInit = {},
  ): Promise<{ body: T; response: Response }> {
    const response = await this.send(path, {
      method: 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      ...init,
    });
    const parsed = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const code = typeof parsed.code === 'string' ? parsed.code : undefined;
      const message =
        typeof parsed.message === 'string'
          ? parsed.message
          : Array.isArray(parsed.message)
            ? parsed.message.join('; ')
            : `HTTP ${response.status}`;
      const exit =
        code === undefined
          ? response.status === 401
            ? EXIT.unauthenticated
            : response.status === 403
              ? EXIT.forbidden
              : response.status === 404
                ? EXIT.notFound
                : response.status === 429
                  ? EXIT.failed
                  : response.status < 500
                    ? EXIT.invalid
                    : EXIT.failed
          : exitCodeOf(code);
      throw new CliError(
        `${message}${hint(code, undefined)}`,
        exit,
        code ?? `HTTP_${response.status}`,
        parsed,
      );
    }
    return { body: parsed as T, response };
  }

  /** Asks for a sign-in link by mail (the server answers the same for any address). */
  async requestSignInLink(email: string): Promise<void> {
    await this.rest('/api/v1/auth/signin', { email });
  }

  /**
   * Starts a browser-approved sign-in: the address gets a link whose page asks for `userCode`;
   * the grant lives `ttlSeconds` (the server caps it).
   */
  async startCliLogin(email: string, ttlSeconds: number): Promise<CliLoginGrant> {
    return (await this.rest<CliLoginGrant>('/api/v1/cli-login', { email, ttlSeconds })).body;
  }

  /** One poll of a grant: pending, or approved with the session's cookie (given out once). */
  async pollCliLogin(deviceCode: string): Promise<CliLoginPoll> {
    return (await this.rest<CliLoginPoll>('/api/v1/cli-login/poll', { deviceCode })).body;
  }

  /** Exchanges a link's token for a session: the cookie to keep. */
  async verifySignInLink(token: string): Promise<{
    cookie: string;
    expiresAt?: string;
    user: { id: string; email: string };
  }> {
    const { body, response } = await this.rest<{ user: { id: string; email: string } }>(
      '/api/v1/auth/signin/verify',
      { token },
    );
    const setCookie = response.headers.getSetCookie()[0];
    if (!setCookie) {
      throw new CliError('the API signed you in but sent no session cookie', EXIT.failed);
    }
    const expires = /;\s*expires=([^;]+)/i.exec(setCookie)?.[1];
    const expiresAt = expires ? new Date(expires) : undefined;
    return {
      cookie: setCookie.split(';')[0],
      ...(expiresAt && !Number.isNaN(expiresAt.getTime())
        ? { expiresAt: expiresAt.toISOString() }
        : {}),
      user: body.user,
    };
  }

  /** Ends the session server-side (its cookie stops working at once). */
  async logout(): Promise<void> {
    await this.rest('/api/v1/auth/logout', undefined, { method: 'POST' });
  }

  /**
   * Uploads a .krt as a new version of the runtime: streamed as multipart/form-data (field
   * `file`), calling `onProgress` as its bytes go out.
   */
  async uploadKrt(
    runtimeId: string,
    file: string,
    onProgress?: (sent: number, total: number) => void,
  ): Promise<{
    runtimeId: string;
    name: string;
    status: string;
    krtVersion: string;
    workflows: string[];
  }> {
    const total = (await stat(file)).size;
    const boundary = `----kre-${randomBytes(12).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(file).replace(/["\r\n]/g, '_')}"\r\nContent-Type: application/gzip\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    async function* parts(): AsyncGenerator<Uint8Array> {
      yield head;
      let sent = 0;
      for await (const chunk of createReadStream(file)) {
        sent += (chunk as Buffer).length;
        onProgress?.(sent, total);
        yield chunk as Buffer;
      }
      yield tail;
    }
    const { body } = await this.rest<{
      runtimeId: string;
      name: string;
      status: string;
      krtVersion: string;
      workflows: string[];
    }>(`/api/v1/runtimes/${encodeURIComponent(runtimeId)}/versions`, undefined, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: ReadableStream.from(parts()),
      duplex: 'half', // a streamed request body (Node's fetch requires saying so)
    });
    return body;
  }

  /** A graphql-ws client authenticated as this client (token in connectionParams, or the cookie). */
  subscriptions(): Client {
    const credentials = this.credentials;
    const headers: Record<string, string> =
      credentials?.type === 'session' ? { cookie: credentials.cookie } : {};
    return createClient({
      url: `${this.api.replace(/^http/, 'ws')}/graphql`,
      lazy: true,
      retryAttempts: 3,
      connectionParams:
        credentials?.type === 'token' ? { authorization: `Bearer ${credentials.token}` } : {},
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers });
        }
      },
    });
  }
}
