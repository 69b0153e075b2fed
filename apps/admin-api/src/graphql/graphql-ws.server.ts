import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { RuntimeRole } from '@libs/core';
import { HttpAdapterHost, ModulesContainer, Reflector } from '@nestjs/core';
import { GraphQLSchemaHost, RESOLVER_NAME_METADATA, RESOLVER_TYPE_METADATA } from '@nestjs/graphql';
import {
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  Kind,
  OperationTypeNode,
  type SelectionSetNode,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';
import type { Context, OperationResult, SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { ADMIN_API_ENV, type AdminApiEnv, type AuthConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';
import { ACCESS_KEY, type Access } from '../auth/access.decorators.js';
import { Authenticator } from '../auth/authenticator.service.js';
import { LiveConnections } from '../auth/live-connections.service.js';
import type { GqlContext, Principal, WsConnectionState } from '../auth/principal.js';
import { valueAt } from '../auth/runtime-role.guard.js';
import { readCookie } from '../common/cookies.js';
import { toGraphqlError } from '../common/error.filter.js';
import { GRAPHQL_PATH, commonRules } from './graphql.options.js';
import { GRAPHQL_MAX_TOKENS, operationCostError, tokenLimitMessage } from './limits.js';

type Extra = { socket: WebSocket; request: IncomingMessage; kre?: WsConnectionState };

/** What a `@RequireRuntimeRole` subscription needs: the role, and where its runtime id is. */
type RuntimeAccess = { role: RuntimeRole; argPath: string };

/**
 * GraphQL subscriptions over graphql-ws at /graphql. The upgrade is refused (403) when a
 * browser's `Origin` is not one of FRONTEND_ORIGINS (cross-site WebSocket hijacking); clients
 * without an Origin (programs) pass. `connection_init` must authenticate: `connectionParams`
 * `{authorization: 'Bearer <API token>'}`, or the session cookie of the upgrade request.
 * Each subscription on one runtime is tracked (LiveConnections) until it ends, so that losing
 * the role it needs there ends it at once, with an error, on whichever replica serves it.
 */
@Injectable()
export class GraphqlWsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(GraphqlWsServer.name);
  private wss?: WebSocketServer;
  private disposable?: { dispose: () => void | Promise<void> };
  /** The `@RequireRuntimeRole` subscriptions, by field name. */
  private runtimeSubscriptions = new Map<string, RuntimeAccess>();
  /** graphql-js's rules and the limits both transports share. */
  private rules: ValidationRule[] = [];
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
    private readonly modules: ModulesContainer,
    private readonly reflector: Reflector,
  ) {}

  onApplicationBootstrap(): void {
    this.runtimeSubscriptions = this.findRuntimeSubscriptions();
    this.rules = [...specifiedRules, ...commonRules(this.env)];
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
    this.disposable = useServer<Record<string, unknown> | undefined, Extra>(
      {
        schema: this.schemaHost.schema,
        onSubscribe: (_ctx, _id, payload) => this.prepare(payload),
        context: (ctx): GqlContext => ({ ws: ctx.extra.kre }),
        onConnect: (ctx) => this.connect(ctx),
        onOperation: (ctx, _id, _payload, args, result) => this.track(ctx, args, result),
        onClose: (ctx) => this.connections.remove(ctx.extra.socket),
      },
      this.wss,
    );
    this.httpServer().on('upgrade', this.onUpgrade);
  }

  /**
   * Parses and checks a subscribe message with the HTTP transport's limits: at most
   * GRAPHQL_MAX_TOKENS tokens (parsing stops there), the common validation rules, and the cost
   * with the message's own variables. The arguments it returns are executed as they are.
   */
  prepare(payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
    const schema = this.schemaHost.schema;
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxLexicalTokens: GRAPHQL_MAX_TOKENS });
    } catch (error) {
      const tokens = tokenLimitMessage(error);
      if (tokens) return [new GraphQLError(tokens)];
      return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
    }
    const errors = validate(schema, document, this.rules);
    if (errors.length > 0) return errors;
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) return [new GraphQLError('name the operation to run (operationName)')];
    const variables = payload.variables ?? {};
    const costError = operationCostError(
      schema,
      document,
      operation,
      variables,
      this.env.GRAPHQL_MAX_COST,
    );
    if (costError) return [costError];
    return { schema, document, operationName: payload.operationName, variableValues: variables };
  }

  async onApplicationShutdown(): Promise<void> {
    this.httpServer().off('upgrade', this.onUpgrade);
    await this.disposable?.dispose();
    this.wss?.close();
  }

  /**
   * A subscription on one runtime (the guard has let it through) becomes endable and tracked
   * until it ends; anything else runs as it is.
   */
  private track(
    ctx: Context<Record<string, unknown> | undefined, Extra>,
    args: ExecutionArgs,
    result: OperationResult,
  ): OperationResult | undefined {
    if (!isAsyncIterable(result)) return undefined;
    const scope = this.runtimeScope(args);
    const principal = (args.contextValue as GqlContext).principal ?? ctx.extra.kre?.principal;
    if (!scope || !principal) return undefined;
    let untrack: () => void = () => undefined;
    const { iterator, end } = endable(result[Symbol.asyncIterator](), () => untrack());
    untrack = this.connections.track({
      socket: ctx.extra.socket,
      principal,
      ...scope,
      end: (error) => end(toGraphqlError(error)),
    });
    return iterator;
  }

  /** The runtime and role of a `@RequireRuntimeRole` subscription, from its arguments. */
  private runtimeScope(args: ExecutionArgs): { runtimeId: string; role: RuntimeRole } | null {
    const operation = getOperationAST(args.document, args.operationName);
    if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return null;
    const field = rootField(args.document, operation.selectionSet);
    const access = field && this.runtimeSubscriptions.get(field.name.value);
    const definition = field && args.schema.getSubscriptionType()?.getFields()[field.name.value];
    if (!access || !definition) return null;
    // Execution coerced the same variables without error, or there would be no subscription.
    const variables = getVariableValues(
      args.schema,
      operation.variableDefinitions ?? [],
      args.variableValues ?? {},
    );
    if (!variables.coerced) return null;
    const runtimeId = valueAt(
      getArgumentValues(definition, field, variables.coerced),
      access.argPath,
    );
    // No runtime (an optional argument left out): platform admins only, who are revoked by
    // platform role changes.
    return typeof runtimeId === 'string' ? { runtimeId, role: access.role } : null;
  }

  /** The resolvers' `@Subscription` methods that declare `@RequireRuntimeRole`. */
  private findRuntimeSubscriptions(): Map<string, RuntimeAccess> {
    const found = new Map<string, RuntimeAccess>();
    for (const module of this.modules.values()) {
      for (const { metatype, instance } of module.providers.values()) {
        if (!instance || typeof metatype !== 'function') continue;
        const prototype = Object.getPrototypeOf(instance) as object;
        for (const name of Object.getOwnPropertyNames(prototype)) {
          const method: unknown = Object.getOwnPropertyDescriptor(prototype, name)?.value;
          if (name === 'constructor' || typeof method !== 'function') continue;
          const kind = this.reflector.get<string | undefined>(RESOLVER_TYPE_METADATA, method);
          if (kind !== 'Subscription') continue;
          const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [
            method,
            metatype,
          ]);
          if (access?.kind !== 'runtimeRole') continue;
          const field = this.reflector.get<string | undefined>(RESOLVER_NAME_METADATA, method);
          found.set(field ?? name, { role: access.role, argPath: access.argPath });
        }
      }
    }
    return found;
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

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof (Object(value) as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}

/** The one root field of a subscription (validation allows no more), through fragments. */
function rootField(document: DocumentNode, selectionSet: SelectionSetNode): FieldNode | undefined {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) return selection;
    const fragment =
      selection.kind === Kind.INLINE_FRAGMENT
        ? selection
        : document.definitions.find(
            (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
          );
    const field =
      fragment && 'selectionSet' in fragment && fragment.selectionSet
        ? rootField(document, fragment.selectionSet)
        : undefined;
    if (field) return field;
  }
  return undefined;
}

/**
 * Wraps a subscription's results so that `end(error)` stops it at once: the pending (or next)
 * `next()` rejects with the error, which graphql-ws sends as the operation's `error` message,
 * and the source is closed (its NATS or pub/sub subscription goes). `onFinish` runs once,
 * however the subscription ends (error, client `complete`, socket closed, source done).
 */
function endable<T>(
  source: AsyncIterator<T>,
  onFinish: () => void,
): { iterator: AsyncIterableIterator<T>; end: (error: Error) => void } {
  let finished = false;
  let fail: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // seen by the iterator's caller, if it still asks
  const finish = (): boolean => {
    if (finished) return false;
    finished = true;
    onFinish();
    return true;
  };
  // Closing is best effort: a source that fails to close has nothing more to say to anyone.
  const closeSource = () =>
    Promise.resolve()
      .then(() => source.return?.())
      .catch(() => undefined);
  const iterator: AsyncIterableIterator<T> = {
    next: async () => {
      // `failed` first: once ended, it wins even over a result the source has ready.
      const result = await Promise.race([failed, source.next()]);
      if (result.done) finish();
      return result;
    },
    return: async () => {
      if (finish()) await closeSource();
      return { value: undefined, done: true };
    },
    throw: async (error: unknown) => {
      if (finish()) await closeSource();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  const end = (error: Error) => {
    if (!finish()) return;
    fail(error);
    void closeSource();
  };
  return { iterator, end };
}
