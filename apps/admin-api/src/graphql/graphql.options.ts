import { unwrapResolverError } from '@apollo/server/errors';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { ApolloDriver } from '@nestjs/apollo';
import type { Request, Response } from 'express';
import {
  type GraphQLFormattedError,
  NoSchemaIntrospectionCustomRule,
  type ValidationRule,
} from 'graphql';
import type { AdminApiEnv } from '../admin-api.env.js';
import type { GqlContext } from '../auth/principal.js';
import { logInternal } from '../common/error.filter.js';
import { costLimitPlugin } from './cost-limit.plugin.js';
import {
  GRAPHQL_MAX_TOKENS,
  aliasLimit,
  depthLimit,
  documentLimit,
  tokenLimitMessage,
} from './limits.js';

export const GRAPHQL_PATH = '/graphql';

/**
 * The rules both transports validate every document with; the cost, which needs the request's
 * variables, is checked once the operation is known (costLimitPlugin over HTTP,
 * `GraphqlWsServer.prepare` on the WebSocket).
 */
export function commonRules(env: AdminApiEnv): ValidationRule[] {
  return [
    documentLimit(), // fragments, spreads, response size and repeats; ends validation on excess
    depthLimit(env.GRAPHQL_MAX_DEPTH),
    aliasLimit(env.GRAPHQL_MAX_ALIASES),
    ...(env.NODE_ENV === 'production' ? [NoSchemaIntrospectionCustomRule] : []),
  ];
}

/**
 * Errors that reach Apollo without passing the ErrorFilter (context creation, plugins) are
 * masked here too: the client gets a code and an error id, the log gets the rest.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
): GraphQLFormattedError {
  // graphql-js says "more than 5000 tokens": say how many.
  const tokens = tokenLimitMessage(error);
  if (tokens) return { ...formatted, message: tokens };
  const code = formatted.extensions?.code;
  if (code === 'INTERNAL_SERVER_ERROR' && formatted.extensions?.errorId === undefined) {
    const errorId = logInternal(unwrapResolverError(error));
    return {
      message: 'internal error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code, errorId },
    };
  }
  return formatted;
}

/** Apollo over HTTP at /graphql (the WebSocket side is GraphqlWsServer). */
export function graphqlOptions(env: AdminApiEnv): ApolloDriverConfig {
  const production = env.NODE_ENV === 'production';
  return {
    driver: ApolloDriver,
    path: GRAPHQL_PATH,
    autoSchemaFile: true,
    sortSchema: true,
    graphiql: !production,
    introspection: !production,
    // Cookie-authenticated: refuse "simple" requests a cross-site form could send.
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    hideSchemaDetailsFromClientErrors: production, // no "Did you mean …?"
    includeStacktraceInErrorResponses: false,
    // The body parser's limit (Nest's default, 100 KB of JSON) bounds the query and variables.
    parseOptions: { maxLexicalTokens: GRAPHQL_MAX_TOKENS },
    validationRules: commonRules(env),
    plugins: [costLimitPlugin({ maxCost: env.GRAPHQL_MAX_COST })],
    formatError,
    context: ({ req, res }: { req: Request; res: Response }): GqlContext => ({ req, res }),
  };
}
