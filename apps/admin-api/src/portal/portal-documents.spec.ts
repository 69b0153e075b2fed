import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type OperationDefinitionNode,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import type { AdminApiEnv } from '../admin-api.env.js';
import { commonRules } from '../graphql/graphql.options.js';
import { operationCostError } from '../graphql/limits.js';

/**
 * Every GraphQL document of the admin portal (apps/admin-ui/src/queries.ts, read as text: an app
 * imports no other app), with the variables it sends, against this schema and admin-api's
 * default limits: a change to either that the portal would meet as a refused query fails here.
 */
const QUERIES = new URL('../../../admin-ui/src/queries.ts', import.meta.url);
/** Variables the portal sends that change a document's cost (list limits). */
const VARIABLES: Record<string, Record<string, unknown>> = { Logs: { limit: 100 } };

describe('the admin portal’s GraphQL documents and admin-api’s limits', () => {
  const schema = buildSchema(readFileSync(new URL('../../schema.gql', import.meta.url), 'utf8'));
  const env = {
    NODE_ENV: 'production',
    GRAPHQL_MAX_DEPTH: 10,
    GRAPHQL_MAX_COST: 1_000,
    GRAPHQL_MAX_ALIASES: 15,
  } as AdminApiEnv;
  const documents = [...readFileSync(QUERIES, 'utf8').matchAll(/graphql\(`([\s\S]*?)`\)/g)].map(
    (m) => {
      const document = parse(m[1]);
      const operation = getOperationAST(document) as OperationDefinitionNode;
      return { name: operation.name?.value ?? '(anonymous)', document, operation };
    },
  );

  it('finds the portal’s documents', () => {
    expect(documents.length).toBeGreaterThan(20);
    expect(documents.map((d) => d.name)).toContain('Version');
  });

  it.each(documents.map((d) => [d.name, d] as const))(
    '%s is valid and within the limits',
    (name, d) => {
      const errors = validate(schema, d.document, [...specifiedRules, ...commonRules(env)]).map(
        (e) => e.message,
      );
      const cost = operationCostError(
        schema,
        d.document,
        d.operation,
        VARIABLES[name] ?? {},
        env.GRAPHQL_MAX_COST,
      );
      expect({ name, errors, cost: cost?.message }).toEqual({ name, errors: [], cost: undefined });
    },
  );
});
