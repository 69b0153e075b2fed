import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * `graphql()` types every document against apps/admin-api/schema.gql: graphql-env.d.ts is
 * generated from it (`npm run gql:types`, run by build, lint and typecheck), so a schema change
 * that breaks a query here fails the typecheck and the build.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; ID: string };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
