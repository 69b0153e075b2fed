import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { aliasLimit, costLimit, depthLimit } from './limits.js';

// Reliability rows G1 (depth, cost) and G2 (aliases), on a schema that nests without end.
const schema = buildSchema(`
  type Node { id: ID! child: Node children(limit: Int): [Node!]! }
  type Query { node: Node nodes(limit: Int): [Node!]! }
`);

const errors = (query: string, rules = [depthLimit(5), costLimit(100), aliasLimit(3)]) =>
  validate(schema, parse(query), [...specifiedRules, ...rules]).map((e) => e.message);

const nested = (depth: number) =>
  `{ node { ${'child { '.repeat(depth - 2)}id${' }'.repeat(depth - 2)} } }`;

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
  });
});
