import type { JetStreamClient } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ObjectStore, Objm } from '@nats-io/obj';
import { type NatsConnection, NoRespondersError } from '@nats-io/transport-node';
import {
  type JsonObject,
  type JsonValue,
  compressToFit,
  decodeDataReply,
  encodeFindRequest,
  encodeSaveRequest,
  payloadLimit,
  toJsonValue,
  validateCollection,
  validateDocument,
  validateLimit,
  validateQuery,
  validateSort,
} from '@libs/messaging/workload';

export type Scope = 'node' | 'workflow' | 'project';
const SCOPES: readonly Scope[] = ['node', 'workflow', 'project'];
const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;

/** `ctx.configuration`: the version's KV buckets, scoped node → workflow → project. */
export class Configuration {
  private readonly kvs = new Map<Scope, Promise<KV>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly buckets: Partial<Record<Scope, string>>,
  ) {}

  private bucket(scope: Scope): Promise<KV> {
    if (!SCOPES.includes(scope))
      throw new TypeError(
        `scope must be one of ${SCOPES.join(', ')} (got ${JSON.stringify(scope)})`,
      );
    const name = this.buckets[scope];
    if (!name)
      throw new Error(
        `this node has no ${scope} configuration bucket (KRT_NATS_KEY_VALUE_STORE_${scope.toUpperCase()} is not set)`,
      );
    let kv = this.kvs.get(scope);
    if (!kv) {
      kv = new Kvm(this.js).open(name);
      kv.catch(() => this.kvs.delete(scope));
      this.kvs.set(scope, kv);
    }
    return kv;
  }

  private static key(key: unknown): string {
    if (typeof key !== 'string' || !KV_KEY.test(key) || key.startsWith('.') || key.endsWith('.'))
      throw new TypeError(
        `configuration key ${JSON.stringify(key)} is not valid: use letters, digits and - / _ = . (not at the ends)`,
      );
    return key;
  }

  /** The value of `key` in `scope`, or the first of node, workflow, project that has it. */
  async get(key: string, scope?: Scope): Promise<string | undefined> {
    Configuration.key(key);
    for (const s of scope ? [scope] : SCOPES) {
      if (!scope && !this.buckets[s]) continue;
      const entry = await (await this.bucket(s)).get(key);
      if (entry && entry.operation === 'PUT') return entry.string();
    }
    return undefined;
  }

  async set(key: string, value: string, scope: Scope = 'node'): Promise<void> {
    if (typeof value !== 'string')
      throw new TypeError(
        `configuration values are strings (got ${typeof value} for "${String(key)}")`,
      );
    await (await this.bucket(scope)).put(Configuration.key(key), value);
  }

  async delete(key: string, scope: Scope = 'node'): Promise<void> {
    await (await this.bucket(scope)).delete(Configuration.key(key));
  }
}

/** `ctx.objectStore`: the node's object store, when the manifest declares one. */
export class NodeObjectStore {
  private store?: Promise<ObjectStore>;

  constructor(
    private readonly js: JetStreamClient,
    private readonly name: string | undefined,
  ) {}

  private open(): Promise<ObjectStore> {
    if (!this.name)
      return Promise.reject(
        new Error(
          'this node declares no object store (objectStore in the KRT manifest; KRT_NATS_OBJECT_STORE)',
        ),
      );
    if (!this.store) {
      this.store = new Objm(this.js).open(this.name);
      this.store.catch(() => (this.store = undefined));
    }
    return this.store;
  }

  private static key(key: unknown): string {
    if (typeof key !== 'string' || !key) throw new TypeError('object names are non-empty strings');
    return key;
  }

  async save(key: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(bytes instanceof Uint8Array))
      throw new TypeError('object data must be a Buffer, Uint8Array or string');
    await (await this.open()).putBlob({ name: NodeObjectStore.key(key) }, bytes);
  }

  /** The object's bytes, or undefined when there is none. */
  async get(key: string): Promise<Buffer | undefined> {
    const data = await (await this.open()).getBlob(NodeObjectStore.key(key));
    return data ? Buffer.from(data) : undefined;
  }

  async delete(key: string): Promise<void> {
    await (await this.open()).delete(NodeObjectStore.key(key));
  }

  /** Names of the stored objects, optionally only those matching `filter`. */
  async list(filter?: RegExp | string): Promise<string[]> {
    const infos = await (await this.open()).list();
    const re = typeof filter === 'string' ? new RegExp(filter) : filter;
    return infos
      .filter((i) => !i.deleted && (!re || re.test(i.name)))
      .map((i) => i.name)
      .sort();
  }
}

const DATA_TIMEOUT_MS = 10_000;

/** `ctx.db`: the runtime's data database, through mongo-writer over NATS request/reply. */
export class DataClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {}

  private async request(op: 'save' | 'find', body: Uint8Array) {
    const subject = `${this.prefix}.${op}`;
    const payload = compressToFit(
      body,
      payloadLimit(this.nc.info?.max_payload ?? 1024 * 1024),
      `db.${op}`,
    );
    let reply;
    try {
      reply = await this.nc.request(subject, payload, { timeout: DATA_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof NoRespondersError || (error as { code?: string }).code === '503')
        throw new Error(`db.${op}: no mongo-writer answers on ${subject}; is it running?`, {
          cause: error,
        });
      throw new Error(`db.${op}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    const decoded = decodeDataReply(reply.data);
    if (decoded.error) throw new Error(`db.${op}: ${decoded.error}`);
    return decoded;
  }

  /** Inserts `doc` into `collection`; resolves with its `_id` as a string. */
  async save(collection: string, doc: Record<string, unknown>): Promise<string> {
    const document = validateDocument(toJsonValue(doc, 'doc'));
    const reply = await this.request(
      'save',
      encodeSaveRequest({ collection: validateCollection(collection), document }),
    );
    return reply.id ?? '';
  }

  /** Documents of `collection` matching `query` (safe operators only). */
  async find(
    collection: string,
    query: Record<string, unknown> = {},
    options: { limit?: number; sort?: Record<string, 1 | -1> } = {},
  ): Promise<JsonObject[]> {
    const q = validateQuery(toJsonValue(query, 'query'));
    const reply = await this.request(
      'find',
      encodeFindRequest({
        collection: validateCollection(collection),
        query: q,
        limit: validateLimit(options.limit ?? 0),
        sort: validateSort(options.sort),
      }),
    );
    return reply.documents ?? [];
  }
}

export type { JsonValue };
