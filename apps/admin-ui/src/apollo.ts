import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';

/**
 * Queries and mutations over HTTP, subscriptions over graphql-ws, both on this origin with the
 * session cookie (HttpOnly: the portal never holds a credential itself).
 */
export function createApolloClient(origin: string = window.location.origin): ApolloClient {
  const http = new HttpLink({ uri: `${origin}/graphql`, credentials: 'same-origin' });
  const ws = new GraphQLWsLink(
    createClient({ url: `${origin.replace(/^http/, 'ws')}/graphql`, lazy: true, retryAttempts: 5 }),
  );
  return new ApolloClient({
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      ws,
      http,
    ),
    cache: new InMemoryCache({
      typePolicies: {
        Runtime: { keyFields: ['id'] },
        Version: { keyFields: ['id'] },
        ConfigurationVariable: { keyFields: false },
        RuntimeMember: { keyFields: ['userId'] },
      },
    }),
  });
}
