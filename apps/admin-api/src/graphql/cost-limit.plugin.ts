import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { type LimitWork, operationCostError } from './limits.js';

/** Apollo answers an error thrown by `didResolveOperation` with its `http` status (else 500). */
const badRequest = (error: GraphQLError) =>
  new GraphQLError(error.message, {
    nodes: error.nodes,
    extensions: { ...error.extensions, http: { status: 400 } },
  });

/**
 * The cost limit over HTTP, with the request's variables (`limit: $n` costs the value of `$n`),
 * once the operation is known and before the variables are coerced or anything runs. Validation
 * rules cannot do it: they do not see the variables, and Apollo keeps a document it validated
 * once (the `costLimit` rule serves graphql-ws, whose validation has no variables).
 */
export function costLimitPlugin(options: {
  maxCost: number;
  work?: LimitWork;
}): ApolloServerPlugin {
  const listener: GraphQLRequestListener<BaseContext> = {
    didResolveOperation({ schema, document, operation, request }) {
      if (!operation) return Promise.resolve(); // Apollo answers "unknown operation" next
      const error = operationCostError(
        schema,
        document,
        operation,
        request.variables ?? {},
        options.maxCost,
        options.work,
      );
      if (error) throw badRequest(error);
      return Promise.resolve();
    },
  };
  return { requestDidStart: () => Promise.resolve(listener) };
}
