import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  GraphQLError,
  type GraphQLOutputType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
} from 'graphql';

/**
 * Validation rules that bound what one document may ask for (OWASP GraphQL cheat sheet):
 * selection depth, a cost that multiplies under lists, and the number of aliases (so one
 * request cannot repeat an operation a thousand times). Introspection (`__schema`, `__type`)
 * is not counted: it is off in production and its standard query is deep by design.
 */

/** What each list multiplies the cost of its items by, unless a `limit` argument says. */
export const LIST_FACTOR = 10;

const fail = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });

type Visit = (
  selectionSet: SelectionSetNode,
  type: GraphQLCompositeType | undefined,
  seen: ReadonlySet<string>,
) => number;

/** Walks selections through fragments (each fragment once per path: no cycles). */
function walker(
  context: ValidationContext,
  onField: (
    field: FieldNode,
    type: GraphQLOutputType | undefined,
    inner: (t: GraphQLCompositeType | undefined) => number,
  ) => number,
  combine: (values: number[]) => number,
): Visit {
  const visit: Visit = (selectionSet, type, seen) =>
    combine(
      selectionSet.selections.map((selection) => {
        switch (selection.kind) {
          case Kind.FIELD: {
            if (selection.name.value.startsWith('__')) return 0;
            const fieldType =
              type && (isObjectType(type) || isInterfaceType(type))
                ? type.getFields()[selection.name.value]?.type
                : undefined;
            return onField(selection, fieldType, (inner) =>
              selection.selectionSet ? visit(selection.selectionSet, inner, seen) : 0,
            );
          }
          case Kind.INLINE_FRAGMENT: {
            const condition = selection.typeCondition
              ? context.getSchema().getType(selection.typeCondition.name.value)
              : type;
            return visit(
              selection.selectionSet,
              condition && isCompositeType(condition) ? condition : undefined,
              seen,
            );
          }
          case Kind.FRAGMENT_SPREAD: {
            const name = selection.name.value;
            const fragment: FragmentDefinitionNode | null | undefined = context.getFragment(name);
            if (!fragment || seen.has(name)) return 0;
            const condition = context.getSchema().getType(fragment.typeCondition.name.value);
            return visit(
              fragment.selectionSet,
              condition && isCompositeType(condition) ? condition : undefined,
              new Set([...seen, name]),
            );
          }
        }
      }),
    );
  return visit;
}

const compositeOf = (type: GraphQLOutputType | undefined) => {
  const named = type ? getNamedType(type) : undefined;
  return named && isCompositeType(named) ? named : undefined;
};

function rootType(context: ValidationContext, operation: 'query' | 'mutation' | 'subscription') {
  const schema = context.getSchema();
  return (
    (operation === 'query'
      ? schema.getQueryType()
      : operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType()) ?? undefined
  );
}

/** Fails a document whose selections nest deeper than `max` fields. */
export function depthLimit(max: number): ValidationRule {
  return (context): ASTVisitor => {
    const depth = walker(
      context,
      (_field, type, inner) => 1 + inner(compositeOf(type)),
      (values) => Math.max(0, ...values),
    );
    return {
      OperationDefinition(node) {
        const found = depth(node.selectionSet, rootType(context, node.operation), new Set());
        if (found > max)
          context.reportError(
            fail(`the query is ${found} levels deep; at most ${max} are allowed`),
          );
      },
    };
  };
}

/**
 * Fails a document that costs more than `max`: each field costs 1, and what is selected under
 * a list costs its `limit` argument (or LIST_FACTOR) times as much.
 */
export function costLimit(max: number): ValidationRule {
  return (context): ASTVisitor => {
    const cost = walker(
      context,
      (field, type, inner) => {
        const children = inner(compositeOf(type));
        if (!type || !isListType(getNullableType(type))) return 1 + children;
        const limit = field.arguments?.find((a) => a.name.value === 'limit')?.value;
        const factor = limit?.kind === Kind.INT ? Math.max(1, Number(limit.value)) : LIST_FACTOR;
        return 1 + factor * children;
      },
      (values) => values.reduce((sum, v) => sum + v, 0),
    );
    return {
      OperationDefinition(node) {
        const found = cost(node.selectionSet, rootType(context, node.operation), new Set());
        if (found > max)
          context.reportError(fail(`the query costs ${found}; at most ${max} is allowed`));
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
          if (aliases > max)
            context.reportError(
              fail(`the document has ${aliases} aliases; at most ${max} are allowed`),
            );
        },
      },
    };
  };
}
