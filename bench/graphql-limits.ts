/**
 * Benchmark: how long the admin API takes to answer hostile GraphQL documents of up to 100 KB
 * (issue #12: 22 nested fragment spreads stalled it for 20 s). Target: every answer within 50 ms.
 * Run with `npm run bench:graphql` (plain Node 24, which strips this file's types). Options:
 * `--runs N` (timed runs per document, median printed), `--kib N` (largest size).
 *
 * Each document goes through Apollo Server's HTTP pipeline as the admin API configures it
 * (graphqlOptions): JSON body, parse with the token limit, graphql-js's rules
 * plus ours, costLimitPlugin (the cost with the variables), execution (without resolvers: every field is null),
 * against the checked-in schema (apps/admin-api/schema.gql), with no document cache. The limit
 * modules are transpiled once into bench/out/graphql-limits with the project's TypeScript.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { type GraphQLFormattedError, type ValidationRule, buildSchema } from 'graphql';
import ts from 'typescript';

const TARGET_MS = 50;
const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'bench', 'out', 'graphql-limits');
// The defaults of GRAPHQL_MAX_DEPTH, GRAPHQL_MAX_COST and GRAPHQL_MAX_ALIASES (admin-api.env.ts);
// the server below is configured as graphqlOptions configures it (graphql.options.ts).
const ENV = { depth: 10, cost: 1_000, aliases: 15 };

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    kib: { type: 'string', default: '100' },
  },
});
const runs = Math.max(1, Number(values.runs));
const maxBytes = Number(values.kib) * 1024;

interface Limits {
  GRAPHQL_MAX_TOKENS: number;
  documentLimit(): ValidationRule;
  depthLimit(max: number): ValidationRule;
  aliasLimit(max: number): ValidationRule;
  tokenLimitMessage(error: unknown): string | undefined;
  countTokens(body: string): { tokens: number };
}
interface Plugin {
  costLimitPlugin(options: { maxCost: number }): object;
}

/** Transpiles the limit modules (they import only graphql, Apollo types and each other). */
async function loadLimits(): Promise<[Limits, Plugin]> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  for (const name of ['limits', 'cost-limit.plugin']) {
    const source = await readFile(join(root, 'apps/admin-api/src/graphql', `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2023,
        verbatimModuleSyntax: false,
      },
    });
    await writeFile(join(outDir, `${name}.js`), outputText);
  }
  const load = (name: string) => import(pathToFileURL(join(outDir, `${name}.js`)).href);
  return [(await load('limits')) as Limits, (await load('cost-limit.plugin')) as Plugin];
}

type Variables = Record<string, unknown>;
interface Request {
  query: string;
  variables?: Variables;
  operationName?: string;
}
interface Shape {
  name: string;
  /** The document (and variables) for a size parameter `n`, growing with `n`. */
  make(n: number): Request;
  /** Sizes to try besides the largest under the byte budget. */
  fixed?: number[];
}

const repeat = (n: number, f: (i: number) => string, sep = ' ') =>
  Array.from({ length: n }, (_, i) => f(i)).join(sep);

const USER_FIELDS = [
  'id',
  'email',
  'platformRole',
  'lastActivity',
  'creationDate',
  'activeSessions',
];

const shapes: Shape[] = [
  {
    // The issue's report: F(i) spreads F(i-1) twice, 2^n fields once expanded.
    name: 'nested fragment spreads',
    fixed: [22, 40],
    make: (n) => ({
      query: `query { ...F${n} }\nfragment F0 on Query { me { id } }\n${repeat(
        n,
        (i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`,
        '\n',
      )}`,
    }),
  },
  {
    // Distinct keys at every level, so no repeats: each spread doubles the response (the
    // fragments are spread where their type does not fit; the shape check comes first).
    name: 'spreads, distinct keys',
    fixed: [10, 22],
    make: (n) => ({
      query: `query { ...G${n} }\nfragment G0 on Query { __typename }\n${repeat(
        n,
        (i) => `fragment G${i + 1} on Query { l: me { ...G${i} } r: me { ...G${i} } }`,
        '\n',
      )}`,
    }),
  },
  {
    name: 'aliases x depth',
    fixed: [15],
    make: (n) => ({
      query: `{ ${repeat(n, (i) => `a${i}: versions(runtimeId: "r") { workflows { nodes { subscriptions { node } } } }`)} }`,
    }),
  },
  {
    name: 'nested inline fragments',
    fixed: [100],
    make: (n) => ({ query: `{ ${'... on Query { '.repeat(n)}me { id }${' }'.repeat(n)} }` }),
  },
  {
    name: 'deep fields',
    fixed: [100],
    make: (n) => ({ query: `{ me { ${'a { '.repeat(n)}b${' }'.repeat(n)} } }` }),
  },
  {
    name: 'same field repeated',
    fixed: [20, 250],
    make: (n) => ({ query: `{ ${repeat(n, () => 'me { id }')} }` }),
  },
  {
    // Sub-selections of one key merge: 20 × 20 \`id\` are compared as one level.
    name: 'merged sub-selections',
    fixed: [20],
    make: (n) => ({ query: `{ ${repeat(n, () => `me { ${repeat(n, () => 'id')} }`)} }` }),
  },
  {
    // The most same-key comparisons the limits allow: 15 aliases, 6 keys × 20 each.
    name: 'repeats under aliases',
    fixed: [120],
    make: (n) => ({
      query: `{ ${repeat(15, (i) => `a${i}: me { ${repeat(n, (j) => USER_FIELDS[j % 6])} }`)} }`,
    }),
  },
  {
    name: 'long selection list',
    fixed: [1_000],
    make: (n) => ({
      query: `{ me { ${repeat(n, (i) => USER_FIELDS[i % 6])} } }`,
    }),
  },
  {
    name: 'many fragments',
    fixed: [50],
    make: (n) => ({
      query: `{ me { ${repeat(n, (i) => `...U${i}`)} } }\n${repeat(n, (i) => `fragment U${i} on User { id }`, '\n')}`,
    }),
  },
  {
    // Pairs of distinct fragments that select the same fields: graphql-js compares each pair.
    name: 'fragment pairs',
    fixed: [20],
    make: (n) => ({
      query: `${repeat(n, (i) => `query Q${i} { ...P${i} ...P${(i * 7 + 1) % n} }`, '\n')}\n${repeat(
        n,
        (i) => `fragment P${i} on Query { ${repeat(5, () => 'me { id } runtimes { id }')} }`,
        '\n',
      )}`,
      operationName: 'Q0',
    }),
  },
  {
    name: 'huge variables',
    fixed: [10],
    make: (n) => ({
      query:
        'query ($f: UserActivityFilters) { userActivityList(filters: $f) { items { id } cursor } }',
      variables: {
        f: { types: Array.from({ length: n }, () => 'LOGIN') },
        unused: 'x'.repeat(n),
      },
    }),
  },
];

const BASELINE: Shape = {
  name: 'baseline: a normal query',
  make: () => ({
    query:
      'query Home { me { id email platformRole } runtimes { id name description status publishedVersion } }',
  }),
};

/** The largest `n` for which `fits` holds (it holds for 1 and stops holding as `n` grows). */
function largest(shape: Shape, fits: (request: Request) => boolean): number {
  let lo = 1;
  let hi = 2;
  while (fits(shape.make(hi)) && hi < 1e7) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(shape.make(mid))) lo = mid;
    else hi = mid;
  }
  return lo;
}

async function main(): Promise<void> {
  const [limits, plugin] = await loadLimits();
  const schema = buildSchema(await readFile(join(root, 'apps/admin-api/schema.gql'), 'utf8'));
  const server = new ApolloServer({
    schema,
    documentStore: null, // every run parses and validates
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxLexicalTokens: limits.GRAPHQL_MAX_TOKENS },
    validationRules: [
      limits.documentLimit(),
      limits.depthLimit(ENV.depth),
      limits.aliasLimit(ENV.aliases),
    ],
    plugins: [plugin.costLimitPlugin({ maxCost: ENV.cost })],
    formatError: (formatted: GraphQLFormattedError, error: unknown) => {
      const tokens = limits.tokenLimitMessage(error);
      return tokens ? { ...formatted, message: tokens } : formatted;
    },
  });
  await server.start();

  /** One request as express would hand it over: the JSON body parsed, then Apollo. */
  const answer = async (raw: string) => {
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers: new HeaderMap([['content-type', 'application/json']]),
        search: '',
        body: JSON.parse(raw) as unknown,
      },
      context: () => Promise.resolve({}),
    });
    if (response.body.kind !== 'complete') throw new Error('unexpected chunked answer');
    return { status: response.status ?? 200, body: response.body.string };
  };
  /** The median of `count` answers, after one to warm up. */
  const measure = async (raw: string, count = runs) => {
    await answer(raw);
    const times: number[] = [];
    let last = { status: 0, body: '' };
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      last = await answer(raw);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)], ...last };
  };
  const outcome = (status: number, body: string) => {
    const parsed = JSON.parse(body) as { data?: unknown; errors?: { message: string }[] };
    const first = parsed.errors?.[0]?.message;
    if (status === 200 && parsed.data !== undefined) return `${status} executed`;
    return `${status} ${first ?? ''}`.slice(0, 120);
  };

  // Many runs: the baseline is short, and every ratio divides by it.
  const base = await measure(JSON.stringify(BASELINE.make(1)), 201);
  const baseMs = base.ms;
  console.log(
    `${BASELINE.name}: ${baseMs.toFixed(3)} ms (${outcome(base.status, base.body)}); target: every document up to ${values.kib} KB answered within ${TARGET_MS} ms; median of ${runs} runs`,
  );
  console.log(
    `${'shape'.padEnd(24)} ${'n'.padStart(6)} ${'bytes'.padStart(7)} ${'ms'.padStart(8)} ${'x base'.padStart(7)}  answer`,
  );
  let worst = 0;
  for (const shape of shapes) {
    // Fixed sizes, the largest that parses (at the token limit), the largest under the body limit.
    const parses = largest(
      shape,
      (r) => limits.countTokens(r.query).tokens <= limits.GRAPHQL_MAX_TOKENS,
    );
    const top = largest(shape, (r) => JSON.stringify(r).length <= maxBytes);
    const sizes = [...new Set([...(shape.fixed ?? []), parses, top].filter((n) => n <= top))].sort(
      (a, b) => a - b,
    );
    for (const n of sizes) {
      const raw = JSON.stringify(shape.make(n));
      const { ms, status, body } = await measure(raw);
      worst = Math.max(worst, ms);
      console.log(
        `${shape.name.padEnd(24)} ${String(n).padStart(6)} ${String(raw.length).padStart(7)} ${ms.toFixed(2).padStart(8)} ${(ms / baseMs).toFixed(0).padStart(7)}  ${outcome(status, body)}`,
      );
    }
  }
  await server.stop();
  console.log(
    `slowest answer: ${worst.toFixed(2)} ms (target < ${TARGET_MS} ms): ${worst < TARGET_MS ? 'met' : 'MISSED'}`,
  );
  if (worst >= TARGET_MS) process.exitCode = 1;
}

await main();
