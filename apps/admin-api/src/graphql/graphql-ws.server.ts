import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { specifiedRules, validate } from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { ADMIN_API_ENV, type AdminApiEnv, type AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { Authenticator } from '../auth/authenticator.service.js';
import { LiveConnections } from '../auth/live-connections.service.js';
import type { GqlContext, Principal, WsConnectionState } from '../auth/principal.js';
import { readCookie } from '../common/cookies.js';
import { GRAPHQL_PATH, validationRules } from './graphql.options.js';

type Extra = { socket: WebSocket; request: IncomingMessage; kre?: WsConnectionState };

/**
 * GraphQL subscriptions over graphql-ws at /graphql. The upgrade is refused (403) when a
 * browser's `Origin` is not one of FRONTEND_ORIGINS (cross-site WebSocket hijacking); clients
 * without an Origin (programs) pass. `connection_init` must authenticate: `connectionParams`
 * `{authorization: 'Bearer <API token>'}`, or the session cookie of the upgrade request.
 */
@Injectable()
export class GraphqlWsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(GraphqlWsServer.name);
  private wss?: WebSocketServer;
  private disposable?: { dispose: () => void | Promise<void> };
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== GRAPHQL_PATH) return socket.destroy();
    this.wss!.handleUpgrade(req, socket, head, (ws) => this.wss!.emit('connection', ws, req));
  };

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly schemaHost: GraphQLSchemaHost,
    private readonly authenticator: Authenticator,
    private readonly connections: LiveConnections,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: 1024 * 1024,
      verifyClient: (
        { origin }: { origin?: string },
        done: (ok: boolean, code?: number, message?: string) => void,
      ) =>
        origin === undefined || this.config.frontendOrigins.includes(origin)
          ? done(true)
          : done(false, 403, 'Forbidden: this Origin may not open the GraphQL WebSocket'),
    });
    const rules = [...specifiedRules, ...validationRules(this.env)];
    this.disposable = useServer<Record<string, unknown> | undefined, Extra>(
      {
        schema: this.schemaHost.schema,
        validate: (schema, document) => validate(schema, document, rules),
        context: (ctx): GqlContext => ({ ws: ctx.extra.kre }),
        onConnect: (ctx) => this.connect(ctx),
        onClose: (ctx) => this.connections.remove(ctx.extra.socket),
      },
      this.wss,
    );
    this.httpServer().on('upgrade', this.onUpgrade);
  }

  async onApplicationShutdown(): Promise<void> {
    this.httpServer().off('upgrade', this.onUpgrade);
    await this.disposable?.dispose();
    this.wss?.close();
  }

  private httpServer(): Server {
    return this.adapterHost.httpAdapter.getHttpServer() as Server;
  }

  /** False closes the socket with 4403 Forbidden. */
  private async connect(
    ctx: Context<Record<string, unknown> | undefined, Extra>,
  ): Promise<boolean> {
    const params = ctx.connectionParams ?? {};
    const authorization = params.authorization ?? params.Authorization;
    let principal: Principal | null;
    try {
      if (typeof authorization === 'string') {
        const bearer = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
        principal = bearer ? await this.authenticator.token(bearer[1]) : null;
      } else {
        const sessionId = readCookie(ctx.extra.request.headers.cookie, this.config.cookieName);
        principal = sessionId ? await this.authenticator.session(sessionId) : null;
      }
    } catch (error) {
      this.logger.error(`WebSocket authentication failed: ${String(error)}`);
      return false;
    }
    if (!principal) return false;
    ctx.extra.kre = { principal };
    this.connections.add(ctx.extra.socket, principal);
    return true;
  }
}
