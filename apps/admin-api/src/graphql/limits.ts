import {
  type ASTNode,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  GraphQLError,
  type GraphQLField,
  type GraphQLSchema,
  Kind,
  Lexer,
  type OperationDefinitionNode,
  type SelectionSetNode,
  Source,
  TokenKind,
  type ValidationRule,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
} from 'graphql';

/**
 * What bounds the work one GraphQL document may cause (issue #12, OWASP GraphQL cheat sheet).
 *
 * - Parsing stops at GRAPHQL_MAX_TOKENS (graphql-js `maxLexicalTokens`).
 * - As validation starts, `documentLimit` checks the fragments, the fragment spreads and the
 *   response the document asks for, and ends the validation on excess. graphql-js's
 *   OverlappingFieldsCanBeMerged compares every two fields that land on the same response key,
 *   and then their sub-selections with each other: `{ me { id } }` repeated 500 times (2,000
 *   tokens) costs it ~125,000 comparisons, and nesting multiplies them. Bounding how often one
 *   key repeats at one level of the response (sub-selections merged, as graphql-js merges them)
 *   and how large that response is bounds that work.
 * - Depth, cost and aliases are validation rules; the cost is checked again with the request's
 *   variables once the operation is known (`operationCostError`, run by costLimitPlugin).
 *
 * Depth and cost go through each fragment once (its result is kept by fragment name: a named
 * fragment's selections are typed by its own type condition, wherever it is spread), treat a
 * fragment met again while it is being walked as empty (a cycle, which graphql-js's
 * NoFragmentCycles reports), and stop at the first excess: linear in the size of the document.
 * The response check spreads fragments where they are used (merging depends on where), so it
 * stops after GRAPHQL_MAX_SELECTIONS selections: at most that, plus one pass over the document.
 * Introspection fields (`__schema`, `__type`, `__typename`) add no depth or cost: introspection
 * is off in production and its standard query is deep by design.
 */

/** What each list multiplies the cost of its items by, unless a `limit` argument says. */
export const LIST_FACTOR = 10;
/**
 * Lists of these types are parts of the version document the parent already read (a KRT's
 * workflows, their nodes and each node's subscriptions): no resolver runs per item, and the
 * stored manifest (at most 1 MiB) bounds them. They multiply by this instead, so a client can
 * read a version's whole graph (`workflows { nodes { subscriptions { node } } }` cost 1,111 at
 * LIST_FACTOR, over the default limit on its own).
 */
export const EMBEDDED_LIST_FACTOR = 3;
const EMBEDDED_LIST_ITEMS: ReadonlySet<string> = new Set([
  'Workflow',
  'WorkflowNode',
  'NodeSubscription',
]);
/** Lexical tokens per document (a name, a brace, a `...` each count one; comments do not). */
export const GRAPHQL_MAX_TOKENS = 5_000;
/** Fragment definitions per document. */
export const GRAPHQL_MAX_FRAGMENTS = 50;
/** Fragment spreads (`...Name`) per document. */
export const GRAPHQL_MAX_FRAGMENT_SPREADS = 200;
/**
 * Selections (fields, inline fragments, spreads) of the document once each spread is replaced
 * by its fragment. GraphiQL's introspection query has 230; a query within the default cost
 * (1,000, each field at least 1) fewer than 1,000 fields, introspection aside.
 */
export const GRAPHQL_MAX_SELECTIONS = 2_000;
/**
 * Fields of one response key at one level of the response: in one selection set, its inline
 * fragments, the fragments it spreads, and the sub-selections of fields merged with its parent.
 * Clients repeat `__typename` and `id` once per fragment.
 */
export const GRAPHQL_MAX_FIELD_REPEATS = 20;

/** The limits `documentLimitError` checks. */
export interface DocumentLimits {
  fragments: number;
  fragmentSpreads: number;
  selections: number;
  fieldRepeats: number;
}

export const DOCUMENT_LIMITS: Readonly<DocumentLimits> = {
  fragments: GRAPHQL_MAX_FRAGMENTS,
  fragmentSpreads: GRAPHQL_MAX_FRAGMENT_SPREADS,
  selections: GRAPHQL_MAX_SELECTIONS,
  fieldRepeats: GRAPHQL_MAX_FIELD_REPEATS,
};

/** Counts the selections the walks visit: the tests bound it by the size of the document. */
export interface LimitWork {
  visits: number;
}

const fail = (message: string, nodes?: readonly ASTNode[]) =>
  new GraphQLError(message, { nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });

/** Thrown inside a walk to stop it at the first excess. */
class Excess extends Error {
  constructor(readonly error: GraphQLError) {
    super(error.message);
  }
}

const isIntrospection = (field: FieldNode) => field.name.value.startsWith('__');
const responseKey = (field: FieldNode) => field.alias?.value ?? field.name.value;

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(definition.name.value)) {
      fragments.set(definition.name.value, definition);
    }
  }
  return fragments;
}

/** Counts fragment spreads without recursion (graphql-js parses 2,500 levels of nesting). */
function countSpreads(document: DocumentNode, work?: LimitWork): number {
  let spreads = 0;
  const stack: SelectionSetNode[] = [];
  for (const definition of document.definitions) {
    if (
      definition.kind === Kind.OPERATION_DEFINITION ||
      definition.kind === Kind.FRAGMENT_DEFINITION
    ) {
      stack.push(definition.selectionSet);
    }
  }
  for (let set = stack.pop(); set; set = stack.pop()) {
    for (const selection of set.selections) {
      if (work) work.visits++;
      if (selection.kind === Kind.FRAGMENT_SPREAD) spreads++;
      else if (selection.selectionSet) stack.push(selection.selectionSet);
    }
  }
  return spreads;
}

/** The fragments a selection set is spread from, innermost first (to skip cycles). */
interface Path {
  fragment: string;
  outer: Path | undefined;
}
const onPath = (path: Path | undefined, fragment: string): boolean =>
  path !== undefined && (path.fragment === fragment || onPath(path.outer, fragment));

/** A selection set that contributes to one level of the response. */
interface Part {
  set: SelectionSetNode;
  path: Path | undefined;
}

/**
 * The first limit of the document it exceeds, or undefined: fragments, fragment spreads, then,
 * level by level through the response each operation asks for (fragments spread, inline
 * fragments flattened, sub-selections of one response key merged), the fields per response key
 * and the number of selections. Fragments no operation uses count as operations of their own
 * (graphql-js checks their fields too). Stops after `limits.selections` selections.
 */
export function documentLimitError(
  document: DocumentNode,
  limits: Readonly<DocumentLimits> = DOCUMENT_LIMITS,
  work?: LimitWork,
): GraphQLError | undefined {
  const fragments = fragmentsOf(document);
  const definitions = document.definitions.filter(
    (d) => d.kind === Kind.FRAGMENT_DEFINITION,
  ).length;
  if (definitions > limits.fragments) {
    return fail(
      `the document has ${definitions} fragments; at most ${limits.fragments} are allowed`,
    );
  }
  const spreads = countSpreads(document, work);
  if (spreads > limits.fragmentSpreads) {
    return fail(
      `the document has ${spreads} fragment spreads; at most ${limits.fragmentSpreads} are allowed`,
    );
  }

  let selections = 0;
  const spread = new Set<string>();
  /** Gathers one level of the response from its parts; then each key's merged sub-level. */
  const level = (parts: readonly Part[]) => {
    const repeats = new Map<string, number>();
    const below = new Map<string, Part[]>();
    const gather = (set: SelectionSetNode, path: Path | undefined) => {
      for (const selection of set.selections) {
        if (work) work.visits++;
        if (++selections > limits.selections) {
          throw new Excess(
            fail(
              `the document has at least ${selections} selections once its fragments are spread; at most ${limits.selections} are allowed`,
              [selection],
            ),
          );
        }
        switch (selection.kind) {
          case Kind.FIELD: {
            const key = responseKey(selection);
            const count = (repeats.get(key) ?? 0) + 1;
            if (count > limits.fieldRepeats) {
              throw new Excess(
                fail(
                  `the response key "${key}" is selected at least ${count} times at one level (fragments spread, sub-selections merged); at most ${limits.fieldRepeats} are allowed`,
                  [selection],
                ),
              );
            }
            repeats.set(key, count);
            if (selection.selectionSet) {
              const parts = below.get(key) ?? [];
              parts.push({ set: selection.selectionSet, path });
              below.set(key, parts);
            }
            break;
          }
          case Kind.INLINE_FRAGMENT:
            gather(selection.selectionSet, path);
            break;
          case Kind.FRAGMENT_SPREAD: {
            const name = selection.name.value;
            const fragment = fragments.get(name);
            // Unknown fragments and cycles: KnownFragmentNames and NoFragmentCycles report them.
            if (!fragment || onPath(path, name)) break;
            spread.add(name);
            gather(fragment.selectionSet, { fragment: name, outer: path });
            break;
          }
        }
      }
    };
    for (const part of parts) gather(part.set, part.path);
    for (const sub of below.values()) level(sub);
  };

  try {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION) {
        level([{ set: definition.selectionSet, path: undefined }]);
      }
    }
    // A used fragment's own merges are a part of those of the operations that use it.
    for (const [name, fragment] of fragments) {
      if (!spread.has(name)) {
        level([{ set: fragment.selectionSet, path: { fragment: name, outer: undefined } }]);
      }
    }
  } catch (error) {
    if (error instanceof Excess) return error.error;
    throw error;
  }
  return undefined;
}

/**
 * Checks `documentLimitError` when validation enters the document, before any rule looks at a
 * selection set, and on excess ends the validation there: graphql-js then answers our error and
 * "Validation aborted." without running its field-merging check. (Apollo answers an error thrown
 * by a plugin hook before validation with a 500, so this has to be a rule.)
 */
export function documentLimit(
  limits: Readonly<DocumentLimits> = DOCUMENT_LIMITS,
  work?: LimitWork,
): ValidationRule {
  return (context): ASTVisitor => ({
    Document(node) {
      const error = documentLimitError(node, limits, work);
      if (!error) return;
      context.reportError(error);
      // The budget graphql-js's own rules share (they abort the same way when it runs out).
      context.spendFragmentWork(Number.POSITIVE_INFINITY);
    },
  });
}

/** A walk's result: `partial` when it stopped at an excess with selections left to count. */
interface Measure {
  value: number;
  partial: boolean;
}

// Keeps figures printable: beyond this, "at least" is all a message needs to say.
const clamp = (n: number) => Math.min(n, Number.MAX_SAFE_INTEGER);

/**
 * Walks selection sets bottom-up: `field` turns a field's children into its value, values of
 * one selection set are folded with `fold`, and the walk returns as soon as a set's value is over
 * `max`. Fragments are walked once (per walker) and typed by their type condition.
 */
function walker(
  schema: GraphQLSchema | undefined,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  max: number,
  field: (
    node: FieldNode,
    def: GraphQLField<unknown, unknown> | undefined,
    children: (type: GraphQLCompositeType | undefined) => number,
  ) => number,
  fold: (acc: number, value: number) => number,
  work?: LimitWork,
) {
  const memo = new Map<string, Measure | null>(); // null: being walked (a cycle)
  let partial = false;
  const typeNamed = (name: string) => {
    const type = schema?.getType(name);
    return type && isCompositeType(type) ? type : undefined;
  };
  const spread = (name: string): number => {
    const known = memo.get(name);
    if (known === null) return 0; // NoFragmentCycles reports it
    if (known) {
      partial ||= known.partial;
      return known.value;
    }
    const fragment = fragments.get(name);
    if (!fragment) return 0;
    memo.set(name, null);
    const outer = partial;
    partial = false;
    const value = visit(fragment.selectionSet, typeNamed(fragment.typeCondition.name.value));
    memo.set(name, { value, partial });
    partial ||= outer;
    return value;
  };
  const visit = (set: SelectionSetNode, type: GraphQLCompositeType | undefined): number => {
    let acc = 0;
    const { selections } = set;
    for (let i = 0; i < selections.length; i++) {
      const selection = selections[i];
      if (work) work.visits++;
      let value: number;
      switch (selection.kind) {
        case Kind.FIELD: {
          if (isIntrospection(selection)) continue;
          const def =
            type && (isObjectType(type) || isInterfaceType(type))
              ? type.getFields()[selection.name.value]
              : undefined;
          const { selectionSet } = selection;
          value = field(selection, def, (inner) => (selectionSet ? visit(selectionSet, inner) : 0));
          break;
        }
        case Kind.INLINE_FRAGMENT:
          value = visit(
            selection.selectionSet,
            selection.typeCondition ? typeNamed(selection.typeCondition.name.value) : type,
          );
          break;
        case Kind.FRAGMENT_SPREAD:
          value = spread(selection.name.value);
          break;
      }
      acc = clamp(fold(acc, value));
      if (acc > max) {
        if (i < selections.length - 1) partial = true;
        return acc;
      }
    }
    return acc;
  };
  return (set: SelectionSetNode, type: GraphQLCompositeType | undefined): Measure => {
    partial = false;
    const value = visit(set, type);
    return { value, partial };
  };
}

const compositeOf = (def: GraphQLField<unknown, unknown> | undefined) => {
  const named = def ? getNamedType(def.type) : undefined;
  return named && isCompositeType(named) ? named : undefined;
};

const rootType = (schema: GraphQLSchema, operation: OperationDefinitionNode) =>
  schema.getRootType(operation.operation) ?? undefined;

const atLeast = (measure: Measure) => (measure.partial ? 'at least ' : '');

/** Fails a document whose selections nest deeper than `max` fields. */
export function depthLimit(max: number, work?: LimitWork): ValidationRule {
  return (context): ASTVisitor => {
    const depth = walker(
      undefined, // depth needs no types
      fragmentsOf(context.getDocument()),
      max,
      (_field, _def, children) => 1 + children(undefined),
      Math.max,
      work,
    );
    return {
      OperationDefinition(node) {
        const found = depth(node.selectionSet, undefined);
        if (found.value > max) {
          context.reportError(
            fail(
              `the query is ${atLeast(found)}${found.value} levels deep; at most ${max} are allowed`,
            ),
          );
        }
      },
    };
  };
}

/** Variable values as the request sent them; absent when not known (graphql-ws validation). */
export type Variables = Readonly<Record<string, unknown>>;

/**
 * What a list field multiplies its items' cost by: its `limit` argument as the resolver will
 * see it (a literal, the variable's value or default, the argument's default), or LIST_FACTOR
 * (EMBEDDED_LIST_FACTOR for parts of a document already read).
 * Without the request's variables (`variables` undefined), a variable counts LIST_FACTOR.
 */
function listFactor(
  field: FieldNode,
  def: GraphQLField<unknown, unknown> | undefined,
  operation: OperationDefinitionNode | undefined,
  variables: Variables | undefined,
): number {
  const argument = field.arguments?.find((a) => a.name.value === 'limit')?.value;
  let limit: unknown;
  if (!argument) {
    limit = def?.args.find((a) => a.name === 'limit')?.defaultValue;
  } else if (argument.kind === Kind.INT) {
    limit = Number(argument.value);
  } else if (argument.kind === Kind.VARIABLE && variables) {
    const name = argument.name.value;
    if (name in variables) {
      limit = variables[name];
    } else {
      const fallback = operation?.variableDefinitions?.find(
        (v) => v.variable.name.value === name,
      )?.defaultValue;
      limit = fallback?.kind === Kind.INT ? Number(fallback.value) : undefined;
    }
  }
  if (typeof limit === 'number' && Number.isFinite(limit)) return Math.max(1, limit);
  return def && EMBEDDED_LIST_ITEMS.has(getNamedType(def.type).name)
    ? EMBEDDED_LIST_FACTOR
    : LIST_FACTOR;
}

const costWalker = (
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  max: number,
  operation: OperationDefinitionNode | undefined,
  variables: Variables | undefined,
  work?: LimitWork,
) =>
  walker(
    schema,
    fragments,
    max,
    (node, def, children) => {
      const inner = children(compositeOf(def));
      if (!def || !isListType(getNullableType(def.type))) return 1 + inner;
      return 1 + listFactor(node, def, operation, variables) * inner;
    },
    (acc, value) => acc + value,
    work,
  );

const costError = (found: Measure, max: number) =>
  fail(`the query costs ${atLeast(found)}${found.value}; at most ${max} is allowed`);

/**
 * The cost of `operation` with the request's variables: each field costs 1, and what is
 * selected under a list costs its `limit` (or LIST_FACTOR) times as much. Returns the error
 * when it is over `max`.
 */
export function operationCostError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Variables,
  max: number,
  work?: LimitWork,
): GraphQLError | undefined {
  const cost = costWalker(schema, fragmentsOf(document), max, operation, variables, work);
  const found = cost(operation.selectionSet, rootType(schema, operation));
  return found.value > max ? costError(found, max) : undefined;
}

/**
 * Fails a document that costs more than `max`, as `operationCostError` but as a validation
 * rule, without variables (`limit: $n` counts LIST_FACTOR): for checking a document alone (the
 * tests of the cost walker). Both transports check the cost with the request's variables
 * (costLimitPlugin over HTTP, GraphqlWsServer.prepare on the WebSocket).
 */
export function costLimit(max: number, work?: LimitWork): ValidationRule {
  return (context): ASTVisitor => {
    const schema = context.getSchema();
    const cost = costWalker(
      schema,
      fragmentsOf(context.getDocument()),
      max,
      undefined,
      undefined,
      work,
    );
    return {
      OperationDefinition(node) {
        const found = cost(node.selectionSet, rootType(schema, node));
        if (found.value > max) context.reportError(costError(found, max));
      },
    };
  };
}

/** Fails a document with more than `max` aliases. */
export function aliasLimit(max: number): ValidationRule {
  return (context): ASTVisitor => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias) aliases++;
      },
      Document: {
        leave() {
          if (aliases > max) {
            context.reportError(
              fail(`the document has ${aliases} aliases; at most ${max} are allowed`),
            );
          }
        },
      },
    };
  };
}

/** Counts a source's lexical tokens as the parser does; `complete` false if lexing failed. */
export function countTokens(body: string): { tokens: number; complete: boolean } {
  const lexer = new Lexer(new Source(body));
  let tokens = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) tokens++;
  } catch {
    return { tokens, complete: false };
  }
  return { tokens, complete: true };
}

// graphql-js 16.15 says "more that", older and later versions "more than".
const TOKEN_LIMIT = /Document contains more tha[nt] (\d+) tokens/;

/**
 * graphql-js stops parsing at `maxLexicalTokens` and says "more than N": this message counts
 * the whole document instead (bounded by the request body limit). Undefined for other errors.
 */
export function tokenLimitMessage(error: unknown): string | undefined {
  if (!(error instanceof GraphQLError) || !error.source) return undefined;
  const max = TOKEN_LIMIT.exec(error.message)?.[1];
  if (max === undefined) return undefined;
  const { tokens, complete } = countTokens(error.source.body);
  return `the document has ${complete ? '' : 'at least '}${tokens} tokens; at most ${max} are allowed`;
}
