import type protobuf from 'protobufjs';
import { type JsonValue, ProtoJsonError, decodeToJson, encodeFromJson } from './proto-json.js';
import { kreProtos } from './proto-root.js';

/** `db.find` returns at most this many documents unless asked for fewer (or more, up to the max). */
export const FIND_DEFAULT_LIMIT = 100;
export const FIND_MAX_LIMIT = 1000;

/**
 * Query operators `db.find` accepts. Everything else is refused: `$where`, `$function`,
 * `$accumulator` and `$expr` run code or aggregation on the server, and operators FerretDB lacks
 * (`$text`, geo) would fail anyway.
 */
export const SAFE_QUERY_OPERATORS: ReadonlySet<string> = new Set([
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$type',
  '$size',
  '$all',
  '$elemMatch',
  '$not',
  '$and',
  '$or',
  '$nor',
  '$regex',
  '$options',
  '$mod',
]);

const MAX_DEPTH = 16;
const MAX_KEYS = 1000;
const COLLECTION = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export type JsonObject = Record<string, JsonValue>;

export interface SaveRequest {
  collection: string;
  document: JsonObject;
}

export interface FindRequest {
  collection: string;
  query: JsonObject;
  /** 0 or absent = FIND_DEFAULT_LIMIT. */
  limit?: number;
  sort?: Record<string, 1 | -1>;
}

export interface DataReply {
  error?: string;
  errorCode?: 'BAD_REQUEST' | 'INTERNAL';
  id?: string;
  documents?: JsonObject[];
}

/** A data request the writer must refuse: the message says what to change. */
export class DataRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataRequestError';
  }
}

/** @throws DataRequestError unless `name` is a plain collection name. */
export function validateCollection(name: unknown): string {
  if (typeof name !== 'string' || !COLLECTION.test(name) || name.startsWith('system'))
    throw new DataRequestError(
      `collection ${JSON.stringify(name)} is not allowed: use 1-64 letters, digits, "_" or "-", starting with a letter (not "system…")`,
    );
  return name;
}

/**
 * Checks a `db.find` query: only the operators of SAFE_QUERY_OPERATORS, bounded size and depth.
 * @throws DataRequestError naming the offending key.
 */
export function validateQuery(query: unknown): JsonObject {
  if (query === null || typeof query !== 'object' || Array.isArray(query))
    throw new DataRequestError('the query must be an object');
  let keys = 0;
  const walk = (value: unknown, path: string, depth: number, parentKey: string) => {
    if (depth > MAX_DEPTH)
      throw new DataRequestError(`the query is nested deeper than ${MAX_DEPTH} levels at ${path}`);
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1, parentKey));
      return;
    }
    if (value === null || typeof value !== 'object') {
      if (parentKey === '$regex' && (typeof value !== 'string' || value.length > 1000))
        throw new DataRequestError(`${path}: $regex must be a string of at most 1000 characters`);
      if (parentKey === '$options' && (typeof value !== 'string' || !/^[imsx]*$/.test(value)))
        throw new DataRequestError(`${path}: $options may only hold the flags i, m, s, x`);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (++keys > MAX_KEYS) throw new DataRequestError(`the query has more than ${MAX_KEYS} keys`);
      const at = path ? `${path}.${key}` : key;
      if (key.startsWith('$')) {
        if (!SAFE_QUERY_OPERATORS.has(key))
          throw new DataRequestError(
            `operator ${key} is not allowed in db.find (at ${at}); allowed: ${[...SAFE_QUERY_OPERATORS].join(' ')}`,
          );
      } else if (key.includes('$') || key.includes('\0') || key === '') {
        throw new DataRequestError(`field name ${JSON.stringify(key)} is not allowed (at ${at})`);
      }
      walk(item, at, depth + 1, key);
    }
  };
  walk(query, '', 0, '');
  return query as JsonObject;
}

/** @throws DataRequestError when a key would be read as an operator or is otherwise unusable. */
export function validateDocument(document: unknown): JsonObject {
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    throw new DataRequestError('the document must be an object');
  const walk = (value: unknown, path: string, depth: number) => {
    if (depth > 64)
      throw new DataRequestError(`the document is nested deeper than 64 levels at ${path}`);
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1));
    else if (value !== null && typeof value === 'object')
      for (const [key, item] of Object.entries(value)) {
        const at = path ? `${path}.${key}` : key;
        if (key.startsWith('$') || key.includes('\0') || key.includes('.'))
          throw new DataRequestError(
            `field name ${JSON.stringify(key)} is not allowed in a document (at ${at}): no leading "$", no "."`,
          );
        walk(item, at, depth + 1);
      }
  };
  walk(document, '', 0);
  return document as JsonObject;
}

/** @throws DataRequestError unless every value is 1 or -1. */
export function validateSort(sort: unknown): Record<string, 1 | -1> {
  if (sort === undefined || sort === null) return {};
  if (typeof sort !== 'object' || Array.isArray(sort))
    throw new DataRequestError('sort must be an object');
  for (const [key, value] of Object.entries(sort)) {
    if (key.startsWith('$') || key === '')
      throw new DataRequestError(`sort field ${JSON.stringify(key)} is not allowed`);
    if (value !== 1 && value !== -1) throw new DataRequestError(`sort.${key} must be 1 or -1`);
  }
  return sort as Record<string, 1 | -1>;
}

/** @throws DataRequestError unless 0 (the default) ≤ limit ≤ FIND_MAX_LIMIT. */
export function validateLimit(limit: unknown): number {
  if (limit === undefined || limit === 0) return FIND_DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > FIND_MAX_LIMIT)
    throw new DataRequestError(`limit must be an integer from 1 to ${FIND_MAX_LIMIT}`);
  return limit;
}

const types = new Map<string, protobuf.Type>();
const typeOf = (name: string) => {
  let type = types.get(name);
  if (!type) {
    type = kreProtos().lookupType(name);
    types.set(name, type);
  }
  return type;
};

function encode(name: string, json: JsonValue): Uint8Array {
  try {
    return encodeFromJson(typeOf(name), json);
  } catch (error) {
    if (error instanceof ProtoJsonError) throw new DataRequestError(error.message);
    throw error;
  }
}

function decode(name: string, bytes: Uint8Array): Record<string, JsonValue> {
  try {
    return decodeToJson(typeOf(name), bytes) as Record<string, JsonValue>;
  } catch (error) {
    throw new DataRequestError(
      `not a ${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export function encodeSaveRequest(request: SaveRequest): Uint8Array {
  return encode('kre.data.SaveRequest', {
    collection: request.collection,
    document: request.document,
  });
}

/** @throws DataRequestError when the bytes are not a valid save request. */
export function decodeSaveRequest(bytes: Uint8Array): SaveRequest {
  const json = decode('kre.data.SaveRequest', bytes);
  return {
    collection: validateCollection(json.collection),
    document: validateDocument(json.document ?? {}),
  };
}

export function encodeFindRequest(request: FindRequest): Uint8Array {
  return encode('kre.data.FindRequest', {
    collection: request.collection,
    query: request.query,
    limit: request.limit ?? 0,
    ...(request.sort ? { sort: request.sort } : {}),
  });
}

/** @throws DataRequestError when the bytes are not a valid find request. */
export function decodeFindRequest(bytes: Uint8Array): Required<FindRequest> {
  const json = decode('kre.data.FindRequest', bytes);
  return {
    collection: validateCollection(json.collection),
    query: validateQuery(json.query ?? {}),
    limit: validateLimit(json.limit),
    sort: validateSort(json.sort),
  };
}

export function encodeDataReply(reply: DataReply): Uint8Array {
  return encode('kre.data.DataReply', {
    error: reply.error ?? '',
    errorCode: reply.errorCode ?? '',
    id: reply.id ?? '',
    documents: reply.documents ?? [],
  });
}

export function decodeDataReply(bytes: Uint8Array): DataReply {
  const json = decode('kre.data.DataReply', bytes);
  const reply: DataReply = {};
  if (json.error) reply.error = json.error as string;
  if (json.errorCode) reply.errorCode = json.errorCode as DataReply['errorCode'];
  if (json.id) reply.id = json.id as string;
  if (json.documents) reply.documents = json.documents as JsonObject[];
  return reply;
}
