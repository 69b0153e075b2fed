import { readFileSync } from 'node:fs';
import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { AdminApiEnv } from '../admin-api.env.js';
import { commonRules } from '../graphql/graphql.options.js';
import { costLimit } from '../graphql/limits.js';

const LOGS = `{ logs(runtimeId: "r", filters: {startDate: "2026-01-01T00:00:00Z"}, limit: 100) {
  cursor items { id date level message versionName workflowName nodeName replica requestId source fields }
} }`;
const NODE_METRICS = `{ nodeMetrics(runtimeId: "r", versionName: "v", from: "2026-01-01T00:00:00Z") {
  workflowName nodeName
  points { date requests errors latencyP50Ms latencyP95Ms latencyP99Ms latencyMeanMs latencyMaxMs }
} }`;
const MEASUREMENTS = `{ measurements(runtimeId: "r", versionName: "v", name: "m", from: "2026-01-01T00:00:00Z") {
  date count fields { name count sum mean min max }
} }`;
const METRICS = `{ metrics(runtimeId: "r", versionName: "v", startDate: "2026-01-01T00:00:00Z") {
  values { accuracy { total micro macro weighted } missing newLabels }
  charts {
    confusionMatrix { x y z } seriesAccuracy { x y z } seriesRecall { x y z }
    seriesSupport { x y z } successVsFails { x y z }
  }
} }`;
const RETENTION = `{ observabilityRetention(runtimeId: "r") { runtimeId days isDefault updatedAt updatedBy } }`;

/** A client selecting every field of an observability query stays within the default limits. */
describe('observability queries and the default GraphQL limits', () => {
  const schema = buildSchema(readFileSync(new URL('../../schema.gql', import.meta.url), 'utf8'));
  const env = {
    NODE_ENV: 'production',
    GRAPHQL_MAX_DEPTH: 10,
    GRAPHQL_MAX_COST: 1_000,
    GRAPHQL_MAX_ALIASES: 15,
  } as AdminApiEnv;
  const rules = [...specifiedRules, ...commonRules(env), costLimit(env.GRAPHQL_MAX_COST)];
  const errors = (document: string) =>
    validate(schema, parse(document), rules).map((e) => e.message);

  it.each([
    ['logs', LOGS],
    ['nodeMetrics', NODE_METRICS],
    ['measurements', MEASUREMENTS],
    ['metrics', METRICS],
    ['observabilityRetention', RETENTION],
  ])('%s with every field', (_, document) => {
    expect(errors(document)).toEqual([]);
  });

  it('still refuses what costs more (the check is real)', () => {
    const twice = `{ a: ${NODE_METRICS.slice(2, -2)} b: ${NODE_METRICS.slice(2, -2)} }`;
    expect(errors(twice)).toEqual([expect.stringMatching(/^the query costs \d+; at most 1000/)]);
  });
});
