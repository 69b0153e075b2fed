import { readFileSync } from 'node:fs';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  type DocumentNode,
  type ValidationRule,
  buildSchema,
  getIntrospectionQuery,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  visit,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import type { AdminApiEnv } from '../admin-api.env.js';
import { graphqlOptions, commonRules } from './graphql.options.js';
import {
  GRAPHQL_MAX_FIELD_REPEATS,
  GRAPHQL_MAX_FRAGMENTS,
  GRAPHQL_MAX_FRAGMENT_SPREADS,
  GRAPHQL_MAX_SELECTIONS,
  GRAPHQL_MAX_TOKENS,
  type LimitWork,
  aliasLimit,
  costLimit,
  depthLimit,
  documentLimit,
  operationCostError,
  tokenLimitMessage,
} from './limits.js';

// Reliability rows G1 (depth, cost) and G2 (aliases), and the hostile documents of issue #12, on
// a schema that nests without end.
const schema = buildSchema(`
  type Node { id: ID! child: Node children(limit: Int): [Node!]! }
  type Query { node: Node nodes(limit: Int): [Node!]! }
`);

const rules = (work?: LimitWork) => [
  documentLimit(undefined, work),
  depthLimit(5, work),
  costLimit(100, work),
  aliasLimit(3),
];

const errors = (query: string, extra: ValidationRule[] = rules()) =>
  validate(schema, parse(query), [...specifiedRules, ...extra]).map((e) => e.message);

const nested = (depth: number) =>
  `{ node { ${'child { '.repeat(depth - 2)}id${' }'.repeat(depth - 2)} } }`;

const repeat = (n: number, f: (i: number) => string, sep = ' ') =>
  Array.from({ length: n }, (_, i) => f(i)).join(sep);

/** The issue's bomb: F(i) spreads F(i-1) twice, so F(n) stands for 2^n `node { id }`. */
const fragmentBomb = (levels: number) =>
  `{ ...F${levels} }\nfragment F0 on Query { node { id } }\n${repeat(
    levels,
    (i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`,
    '\n',
  )}`;

const astNodes = (document: DocumentNode) => {
  let count = 0;
  visit(document, {
    enter() {
      count++;
    },
  });
  return count;
};

/** Validates with our rules counting their visits; returns the messages, visits and AST size. */
function measured(query: string, ours: (work: LimitWork) => ValidationRule[]) {
  const document = parse(query, { maxLexicalTokens: 100_000 });
  const work: LimitWork = { visits: 0 };
  const messages = validate(schema, document, [...specifiedRules, ...ours(work)]).map(
    (e) => e.message,
  );
  return { messages, visits: work.visits, nodes: astNodes(document) };
}

/** Depth and cost alone, with limits high enough for a full walk of most bombs. */
const walkersOnly = (work: LimitWork) => [depthLimit(1_000, work), costLimit(1e15, work)];

describe('GraphQL limits', () => {
  it('depth: accepts up to the limit, refuses deeper, through fragments too', () => {
    expect(errors(nested(5))).toEqual([]);
    expect(errors(nested(6))).toEqual(['the query is 6 levels deep; at most 5 are allowed']);
    const viaFragments = `
      query { node { ...A } }
      fragment A on Node { child { ...B } }
      fragment B on Node { child { child { child { id } } } }`;
    expect(errors(viaFragments)).toEqual(['the query is 6 levels deep; at most 5 are allowed']);
  });

  it('cost: lists multiply what they select, by their limit argument or 10', () => {
    expect(errors('{ nodes { id } }')).toEqual([]); // 1 + 10 × 1
    expect(errors('{ nodes { children { id } } }')).toEqual([
      'the query costs 111; at most 100 is allowed', // 1 + 10 × (1 + 10 × 1)
    ]);
    expect(errors('{ nodes(limit: 2) { children(limit: 3) { id } } }')).toEqual([]); // 1 + 2 × (1 + 3)
    expect(errors('{ nodes(limit: 1000) { id } }')).toEqual([
      'the query costs 1001; at most 100 is allowed',
    ]);
  });

  it('aliases: at most the limit per document', () => {
    expect(errors('{ a: node { id } b: node { id } c: node { id } }')).toEqual([]);
    expect(errors('{ a: node { id } b: node { id } c: node { id } d: node { id } }')).toEqual([
      'the document has 4 aliases; at most 3 are allowed',
    ]);
  });

  it('does not count introspection, and survives fragment cycles (reported by graphql itself)', () => {
    expect(
      errors('{ __schema { types { fields { type { ofType { ofType { name } } } } } } }'),
    ).toEqual([]);
    const cycle = errors('{ node { ...A } } fragment A on Node { child { ...A } }');
    expect(cycle).toEqual(['Cannot spread fragment "A" within itself.']);
    const mutual = errors(
      '{ node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { ...A }',
    );
    expect(mutual).toEqual(['Cannot spread fragment "A" within itself via "B".']);
  });

  it('says "at least" when it stopped counting with selections left', () => {
    expect(errors('{ nodes { children { id } } node { id } }')).toEqual([
      'the query costs at least 111; at most 100 is allowed',
    ]);
    expect(errors(`{ ${nested(7).slice(2, -2)} node { id } }`)).toEqual([
      'the query is at least 7 levels deep; at most 5 are allowed',
    ]);
  });
});

describe('GraphQL limits: hostile documents (issue #12)', () => {
  it("refuses the issue's 22 nested fragment spreads, after work bounded by the document", () => {
    const bomb = measured(fragmentBomb(22), (work) => rules(work));
    expect(bomb.messages).toEqual([
      `the response key "node" is selected at least ${GRAPHQL_MAX_FIELD_REPEATS + 1} times at one level (fragments spread, sub-selections merged); at most ${GRAPHQL_MAX_FIELD_REPEATS} are allowed`,
      'Validation aborted.',
    ]);
    expect(bomb.visits).toBeLessThanOrEqual(2 * bomb.nodes);
  });

  it('walks each fragment once for depth and cost: 22, 44 and 88 levels take linear work', () => {
    const runs = [22, 44, 88].map((levels) => measured(fragmentBomb(levels), walkersOnly));
    // 2 × 2^44 fields cost less than 10^15: walked to the end; 2^88 stops at the excess.
    expect(runs.map((run) => run.messages)).toEqual([
      [],
      [],
      [
        expect.stringMatching(
          /^the query costs at least \d+; at most 1000000000000000 is allowed$/,
        ),
      ],
    ]);
    for (const run of runs) expect(run.visits).toBeLessThanOrEqual(2 * run.nodes);
    expect(runs[2].visits / runs[0].visits).toBeLessThan(4.5); // 4× the levels, ~4× the work
  });

  it('aliases × depth', () => {
    const doc = (aliases: number) =>
      `{ ${repeat(aliases, (i) => `a${i}: nodes { children { children { children { id } } } }`)} }`;
    const run = measured(doc(200), (work) => rules(work));
    expect(run.messages).toContain('the document has 200 aliases; at most 3 are allowed');
    expect(run.messages).toContain('the query costs at least 11111; at most 100 is allowed');
    expect(run.visits).toBeLessThanOrEqual(2 * run.nodes);
    const walk = measured(doc(200), walkersOnly);
    expect(walk.visits).toBeLessThanOrEqual(2 * walk.nodes);
  });

  it('nested inline fragments', () => {
    const doc = `{ ${'... on Query { '.repeat(1_000)}node { id }${' }'.repeat(1_000)} }`;
    const run = measured(doc, (work) => rules(work));
    expect(run.messages).toEqual([]);
    expect(run.visits).toBeLessThanOrEqual(2 * run.nodes);
  });

  it('very long selection lists: one key repeated, or many keys', () => {
    const repeated = measured(`{ node { ${repeat(4_000, () => 'id')} } }`, (work) => rules(work));
    expect(repeated.messages).toEqual([
      `the response key "id" is selected at least ${GRAPHQL_MAX_FIELD_REPEATS + 1} times at one level (fragments spread, sub-selections merged); at most ${GRAPHQL_MAX_FIELD_REPEATS} are allowed`,
      'Validation aborted.',
    ]);
    expect(repeated.visits).toBeLessThanOrEqual(2 * repeated.nodes);
    // Distinct keys (aliases): the response grows past GRAPHQL_MAX_SELECTIONS.
    const wide = measured(`{ node { ${repeat(3_000, (i) => `a${i}: id`)} } }`, (work) =>
      rules(work),
    );
    expect(wide.messages[0]).toBe(
      `the document has at least ${GRAPHQL_MAX_SELECTIONS + 1} selections once its fragments are spread; at most ${GRAPHQL_MAX_SELECTIONS} are allowed`,
    );
    expect(wide.visits).toBeLessThanOrEqual(2 * wide.nodes);
  });

  it('merged sub-selections: the same key under repeated parents counts as one level', () => {
    // 15 × `node { id ×15 }`: no set repeats a key 16 times, but graphql-js compares 225 `id`s.
    const doc = `{ ${repeat(15, () => `node { ${repeat(15, () => 'id')} }`)} }`;
    expect(errors(doc, [documentLimit()])).toEqual([
      `the response key "id" is selected at least ${GRAPHQL_MAX_FIELD_REPEATS + 1} times at one level (fragments spread, sub-selections merged); at most ${GRAPHQL_MAX_FIELD_REPEATS} are allowed`,
      'Validation aborted.',
    ]);
  });

  it('ends validation before graphql-js compares fields (it would report conflicts here)', () => {
    const conflicting = `{ ${repeat(30, (i) => (i % 2 ? 'node { id }' : 'node: nodes { id }'))} }`;
    expect(errors(conflicting, [])[0]).toMatch(/^Fields "node" conflict/);
    expect(errors(conflicting, [documentLimit()])).toEqual([
      expect.stringMatching(/^the response key "node" is selected at least 21 times/),
      'Validation aborted.',
    ]);
  });

  it('many fragments, many spreads', () => {
    const fragments = (n: number) =>
      `{ node { ${repeat(n, (i) => `...U${i}`)} } }\n${repeat(n, (i) => `fragment U${i} on Node { id }`, '\n')}`;
    const ok = measured(fragments(GRAPHQL_MAX_FIELD_REPEATS), (work) => rules(work));
    expect(ok.messages).toEqual([]);
    const many = measured(fragments(1_000), (work) => rules(work));
    expect(many.messages[0]).toBe(
      `the document has 1000 fragments; at most ${GRAPHQL_MAX_FRAGMENTS} are allowed`,
    );
    expect(many.visits).toBeLessThanOrEqual(many.nodes);
    const walk = measured(fragments(1_000), walkersOnly);
    expect(walk.visits).toBeLessThanOrEqual(2 * walk.nodes);

    const spreads = `{ ${repeat(300, (i) => `a${i}: node { ...U }`)} } fragment U on Node { id }`;
    expect(errors(spreads)[0]).toBe(
      `the document has 300 fragment spreads; at most ${GRAPHQL_MAX_FRAGMENT_SPREADS} are allowed`,
    );
  });

  it('spreads whose keys never repeat stop at GRAPHQL_MAX_SELECTIONS', () => {
    // Each level spreads the previous one under two keys: 2^30 selections once spread.
    const doc = `{ ...G30 }\nfragment G0 on Query { node { id } }\n${repeat(
      30,
      (i) => `fragment G${i + 1} on Query { l: node { ...G${i} } r: node { ...G${i} } }`,
      '\n',
    )}`;
    const run = measured(doc, (work) => [documentLimit(undefined, work)]);
    expect(run.messages[0]).toMatch(/at least 2001 selections once its fragments are spread/);
    // The only part of the work not proportional to the document: it stops at the limit.
    expect(run.visits).toBeLessThanOrEqual(2 * run.nodes + GRAPHQL_MAX_SELECTIONS);
  });

  it('tokens: parsing stops at the limit, the message says how many there are', () => {
    const query = `{ node { ${repeat(6_000, () => 'id')} } }`; // 6,000 names + 4 braces + node
    let error: unknown;
    try {
      parse(query, { maxLexicalTokens: GRAPHQL_MAX_TOKENS });
    } catch (e) {
      error = e;
    }
    expect(tokenLimitMessage(error)).toBe(
      `the document has 6005 tokens; at most ${GRAPHQL_MAX_TOKENS} are allowed`,
    );
    expect(tokenLimitMessage(new Error('Document contains more than 5 tokens'))).toBeUndefined();
  });
});

describe('GraphQL limits: the cost with the variables', () => {
  const cost = (query: string, variables: Record<string, unknown>, work?: LimitWork) => {
    const document = parse(query);
    return operationCostError(schema, document, getOperationAST(document)!, variables, 100, work)
      ?.message;
  };
  const query = 'query ($n: Int, $m: Int = 50) { nodes(limit: $n) { children(limit: $m) { id } } }';

  it('costs `limit: $n` as the value of $n, else its default, else LIST_FACTOR', () => {
    expect(cost('query ($n: Int) { nodes(limit: $n) { id } }', { n: 1000 })).toBe(
      'the query costs 1001; at most 100 is allowed',
    );
    expect(cost('query ($n: Int) { nodes(limit: $n) { id } }', { n: 2 })).toBeUndefined();
    expect(cost('query ($n: Int) { nodes(limit: $n) { id } }', {})).toBeUndefined(); // 1 + 10
    expect(cost(query, { n: 1 })).toBeUndefined(); // 1 + 1 × (1 + 50)
    expect(cost(query, { n: 2 })).toBe('the query costs 103; at most 100 is allowed');
    expect(cost(query, { n: 1, m: 1000 })).toBe('the query costs 1002; at most 100 is allowed');
    // Without the variables (graphql-ws validation), a variable counts LIST_FACTOR.
    expect(errors('query ($n: Int) { nodes(limit: $n) { id } }')).toEqual([]);
  });

  it('reads only the variables it needs: a huge variables object adds no work', () => {
    const bomb = `query ($n: Int) { ...F40 }
      fragment F0 on Query { nodes(limit: $n) { id } }
      ${repeat(40, (i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`, '\n')}`;
    const huge: Record<string, unknown> = { n: 3 };
    for (let i = 0; i < 100_000; i++) huge[`v${i}`] = { list: [i, i, i], text: 'x'.repeat(10) };
    const [small, large]: LimitWork[] = [{ visits: 0 }, { visits: 0 }];
    expect(cost(bomb, { n: 3 }, small)).toBe(
      'the query costs at least 128; at most 100 is allowed',
    );
    expect(cost(bomb, huge, large)).toBe('the query costs at least 128; at most 100 is allowed');
    expect(large.visits).toBe(small.visits);
    expect(large.visits).toBeLessThanOrEqual(astNodes(parse(bomb)));
  });
});

describe('GraphQL limits: as the admin API serves them', () => {
  const env = {
    NODE_ENV: 'production',
    GRAPHQL_MAX_DEPTH: 5,
    GRAPHQL_MAX_COST: 100,
    GRAPHQL_MAX_ALIASES: 3,
  } as AdminApiEnv;
  const options = graphqlOptions(env);

  /** Apollo's HTTP pipeline with the admin API's limits, without a network or resolvers. */
  async function serve() {
    const server = new ApolloServer({
      schema,
      rootValue: { node: null, nodes: [] },
      parseOptions: options.parseOptions,
      validationRules: options.validationRules,
      plugins: options.plugins,
      formatError: options.formatError,
    });
    await server.start();
    const post = async (query: string, variables?: Record<string, unknown>) => {
      const response = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: 'POST',
          headers: new HeaderMap([['content-type', 'application/json']]),
          search: '',
          body: variables ? { query, variables } : { query },
        },
        context: () => Promise.resolve({}),
      });
      const body = response.body.kind === 'complete' ? response.body.string : '';
      const { errors: found = [] } = JSON.parse(body) as { errors?: { message: string }[] };
      return { status: response.status ?? 200, messages: found.map((e) => e.message) };
    };
    return { post, stop: () => server.stop() };
  }

  it('answers 400 with what was exceeded and by how much', async () => {
    const { post, stop } = await serve();
    try {
      expect(await post('{ node { id } }')).toEqual({ status: 200, messages: [] });
      expect(await post(`{ node { ${repeat(6_000, () => 'id')} } }`)).toEqual({
        status: 400,
        messages: [`the document has 6005 tokens; at most ${GRAPHQL_MAX_TOKENS} are allowed`],
      });
      expect(await post(fragmentBomb(22))).toEqual({
        status: 400,
        messages: [
          expect.stringMatching(/^the response key "node" is selected at least 21 times/),
          'Validation aborted.',
        ],
      });
      const byVariable = 'query ($n: Int) { nodes(limit: $n) { id } }';
      expect(await post(byVariable, { n: 1000 })).toEqual({
        status: 400,
        messages: ['the query costs 1001; at most 100 is allowed'],
      });
      expect((await post(byVariable, { n: 5 })).status).toBe(200);
    } finally {
      await stop();
    }
  });
});

describe('GraphQL limits: normal documents on the real schema', () => {
  const real = buildSchema(readFileSync(new URL('../../schema.gql', import.meta.url), 'utf8'));
  const env = {
    NODE_ENV: 'development',
    GRAPHQL_MAX_DEPTH: 10,
    GRAPHQL_MAX_COST: 1_000,
    GRAPHQL_MAX_ALIASES: 15,
  } as AdminApiEnv;

  it('validates GraphiQL introspection and a client-style query with fragments', () => {
    const rulesOf = [...specifiedRules, ...commonRules(env)];
    expect(validate(real, parse(getIntrospectionQuery()), rulesOf)).toEqual([]);
    const client = `
      query Home { me { ...Me __typename } runtimes { ...RuntimeCard __typename } }
      fragment Me on User { __typename id email platformRole apiTokens { __typename id name } }
      fragment RuntimeCard on Runtime {
        __typename id name description status publishedVersion ...RuntimeStatus
        entrypointAddress { __typename }
      }
      fragment RuntimeStatus on Runtime { __typename id status statusMessage }`;
    expect(validate(real, parse(client), rulesOf)).toEqual([]);
  });

  it("reads a version's whole workflow graph within the default cost (embedded lists)", () => {
    const graph = parse(`query ($r: ID!, $v: String!) { version(runtimeId: $r, name: $v) {
      id name status workflows { name entrypoint exitpoint
        nodes { name displayName image replicas subscriptions { node channel } } } } }`);
    expect(validate(real, graph, [...specifiedRules, ...commonRules(env)])).toEqual([]);
    // subscriptions 1 + 3×2, a node 4 + 7, nodes 1 + 3×11, a workflow 3 + 34, workflows
    // 1 + 3×37, the version 1 + 3 + 112 (2,545 with every list at LIST_FACTOR).
    const cost = (document: DocumentNode, max: number) =>
      operationCostError(real, document, getOperationAST(document)!, {}, max)?.message;
    expect(cost(graph, 116)).toBeUndefined();
    expect(cost(graph, 115)).toMatch(/costs (at least )?116;/);
    // A list of documents each read on its own still multiplies by LIST_FACTOR: 1 + 10×1.
    const versions = parse('query ($r: ID!) { versions(runtimeId: $r) { id } }');
    expect(cost(versions, 11)).toBeUndefined();
    expect(cost(versions, 10)).toMatch(/costs (at least )?11;/);
  });
});
