import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import {
  CLOCK,
  ConflictError,
  InvalidTransitionError,
  NotFoundError,
  RuntimeNotFoundError,
  VersionStatus,
  systemClock,
  type Clock,
} from '@libs/core';
import { keys } from '@libs/naming';
import { mongo, type Model } from 'mongoose';

const { Binary } = mongo;
import { isDuplicateKey, withLease } from '../atomic.js';
import {
  type KrtChunkDoc,
  type RuntimeDoc,
  type StoredRuntimeQuota,
  type VersionDoc,
  type VersionScaleDoc,
} from './catalog.schemas.js';

export const RUNTIME_MODEL = 'Runtime';
export const VERSION_MODEL = 'Version';
export const KRT_CHUNK_MODEL = 'KrtChunk';
const LOCKS_COLLECTION = 'catalog_locks';
/** Under the 16 MB document limit with room to spare, and large enough to keep round trips few. */
export const KRT_CHUNK_BYTES = 255 * 1024;

export class VersionNotFoundError extends NotFoundError {
  constructor(runtimeId: string, name: string) {
    super('version', `${runtimeId}/${name}`);
  }
}

/** Retries a leased read-check-write while another caller holds the lease (bounded). */
async function leased<R>(model: Model<never>, key: string, work: () => Promise<R>): Promise<R> {
  const locks = model.db.collection<{ _id: string; expiresAt: Date }>(LOCKS_COLLECTION);
  for (let attempt = 0; attempt < 200; attempt++) {
    const result = await withLease(locks, key, work, { ttlMs: 30_000 });
    if (result.acquired) return result.value;
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
  }
  throw new ConflictError(`"${key}" is busy: try again`);
}

@Injectable()
export class RuntimesRepository {
  constructor(
    @InjectModel(RUNTIME_MODEL) private readonly model: Model<RuntimeDoc>,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** @throws ConflictError when the id is taken. */
  async create(
    runtime: Omit<RuntimeDoc, 'createdAt' | 'status' | 'requireInvocationKey'>,
  ): Promise<RuntimeDoc> {
    const doc: RuntimeDoc = {
      ...runtime,
      status: 'CREATING',
      createdAt: this.clock.now(),
      requireInvocationKey: true,
    };
    try {
      await this.model.collection.insertOne(doc as never);
      return doc;
    } catch (error) {
      if (isDuplicateKey(error))
        throw new ConflictError(`runtime "${runtime._id}" already exists`, {
          runtimeId: runtime._id,
        });
      throw error;
    }
  }

  async get(id: string): Promise<RuntimeDoc> {
    const doc = await this.model.findById(id).lean<RuntimeDoc>().exec();
    if (!doc) throw new RuntimeNotFoundError(id);
    return doc;
  }

  find(id: string): Promise<RuntimeDoc | null> {
    return this.model.findById(id).lean<RuntimeDoc>().exec();
  }

  /** All runtimes, or those with the given ids, by id. */
  list(ids?: readonly string[]): Promise<RuntimeDoc[]> {
    const filter = ids ? { _id: { $in: [...ids] } } : {};
    return this.model.find(filter).sort({ _id: 1 }).lean<RuntimeDoc[]>().exec();
  }

  async setStatus(id: string, status: RuntimeDoc['status'], statusMessage?: string): Promise<void> {
    await this.model
      .updateOne(
        { _id: id },
        statusMessage
          ? { $set: { status, statusMessage } }
          : { $set: { status }, $unset: { statusMessage: 1 } },
      )
      .exec();
  }

  /** @throws RuntimeNotFoundError */
  async setQuota(id: string, quota: StoredRuntimeQuota): Promise<RuntimeDoc> {
    const doc = await this.model
      .findOneAndUpdate({ _id: id }, { $set: { quota: { ...quota } } }, { returnDocument: 'after' })
      .lean<RuntimeDoc>()
      .exec();
    if (!doc) throw new RuntimeNotFoundError(id);
    return doc;
  }

  /** @throws RuntimeNotFoundError */
  async setRequireInvocationKey(id: string, value: boolean): Promise<RuntimeDoc> {
    const doc = await this.model
      .findOneAndUpdate(
        { _id: id },
        { $set: { requireInvocationKey: value } },
        { returnDocument: 'after' },
      )
      .lean<RuntimeDoc>()
      .exec();
    if (!doc) throw new RuntimeNotFoundError(id);
    return doc;
  }

  /**
   * Marks a change of the runtime's invocation keys: the new generation, or null when the
   * runtime does not exist. Call it after the change is stored and before reading the state to
   * publish, so whoever publishes a higher generation read every earlier change.
   */
  async bumpInvocationKeysGeneration(id: string): Promise<number | null> {
    const doc = await this.model
      .findOneAndUpdate(
        { _id: id },
        { $inc: { invocationKeysGeneration: 1 } },
        // No projection: FerretDB's findAndModify does not implement one.
        { returnDocument: 'after' },
      )
      .lean<RuntimeDoc>()
      .exec();
    return doc ? (doc.invocationKeysGeneration ?? 0) : null;
  }

  async remove(id: string): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }
}

@Injectable()
export class VersionsRepository {
  constructor(
    @InjectModel(VERSION_MODEL) private readonly model: Model<VersionDoc>,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** @throws ConflictError when the runtime already has a version of that name. */
  async create(version: Omit<VersionDoc, '_id' | 'createdAt' | 'updatedAt'>): Promise<VersionDoc> {
    const now = this.clock.now();
    const doc: VersionDoc = {
      ...version,
      _id: keys.version(version.runtimeId, version.name),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.model.collection.insertOne(doc as never);
      return doc;
    } catch (error) {
      if (isDuplicateKey(error)) {
        throw new ConflictError(
          `runtime "${version.runtimeId}" already has a version "${version.name}"`,
          {
            runtimeId: version.runtimeId,
            versionName: version.name,
          },
        );
      }
      throw error;
    }
  }

  find(runtimeId: string, name: string): Promise<VersionDoc | null> {
    return this.model.findById(keys.version(runtimeId, name)).lean<VersionDoc>().exec();
  }

  async get(runtimeId: string, name: string): Promise<VersionDoc> {
    const doc = await this.find(runtimeId, name);
    if (!doc) throw new VersionNotFoundError(runtimeId, name);
    return doc;
  }

  /** Newest first. */
  list(runtimeId: string): Promise<VersionDoc[]> {
    return this.model.find({ runtimeId }).sort({ createdAt: -1 }).lean<VersionDoc[]>().exec();
  }

  /**
   * The name of the runtime's PUBLISHED version, if any: one document, name only (MongoDB uses
   * the `runtimeId` index; FerretDB scans once either way, but no version is sent back whole).
   */
  async publishedName(runtimeId: string): Promise<string | null> {
    const doc = await this.model
      .findOne({ runtimeId, status: VersionStatus.PUBLISHED }, { name: 1 })
      .lean<Pick<VersionDoc, 'name'>>()
      .exec();
    return doc?.name ?? null;
  }

  /** Versions in any of `statuses`, across runtimes (the reconciler). */
  listByStatus(statuses: readonly VersionStatus[]): Promise<VersionDoc[]> {
    return this.model
      .find({ status: { $in: [...statuses] } })
      .lean<VersionDoc[]>()
      .exec();
  }

  /**
   * Compare-and-set of the status: of concurrent callers from the same status exactly one
   * wins; the others get INVALID_TRANSITION naming the status they found.
   * @throws VersionNotFoundError | InvalidTransitionError
   */
  transition(
    runtimeId: string,
    name: string,
    from: readonly VersionStatus[],
    to: VersionStatus,
    patch: Partial<
      Pick<VersionDoc, 'statusMessage' | 'publishedAt' | 'publishedBy' | 'startedAt'>
    > = {},
  ): Promise<{ previous: VersionDoc; current: VersionDoc }> {
    const id = keys.version(runtimeId, name);
    return leased(this.model as never, `version:${id}`, async () => {
      const previous = await this.get(runtimeId, name);
      if (!from.includes(previous.status)) throw new InvalidTransitionError(previous.status, to);
      const set = { ...patch, status: to, updatedAt: this.clock.now() };
      const unset = patch.statusMessage === undefined ? { statusMessage: 1 } : {};
      await this.model.updateOne({ _id: id }, { $set: set, $unset: unset }).exec();
      return { previous, current: { ...previous, ...set } };
    });
  }

  /** Sets the status whatever it was (the deployer ending a job). */
  async setStatus(
    runtimeId: string,
    name: string,
    status: VersionStatus,
    statusMessage?: string,
  ): Promise<void> {
    const id = keys.version(runtimeId, name);
    await leased(this.model as never, `version:${id}`, async () => {
      const update = statusMessage
        ? { $set: { status, statusMessage, updatedAt: this.clock.now() } }
        : { $set: { status, updatedAt: this.clock.now() }, $unset: { statusMessage: 1 } };
      await this.model.updateOne({ _id: id }, update).exec();
    });
  }

  /**
   * Makes `name` the runtime's only PUBLISHED version; the previously published one goes back
   * to STARTED. Returns the version that was published before, if any.
   */
  publish(runtimeId: string, name: string, by: string): Promise<string | undefined> {
    return leased(this.model as never, `publish:${runtimeId}`, async () => {
      const previous = await this.publishedName(runtimeId);
      await this.transition(runtimeId, name, [VersionStatus.STARTED], VersionStatus.PUBLISHED, {
        publishedAt: this.clock.now(),
        publishedBy: by,
      });
      if (previous && previous !== name) {
        await this.transition(
          runtimeId,
          previous,
          [VersionStatus.PUBLISHED],
          VersionStatus.STARTED,
        );
      }
      return previous ?? undefined;
    });
  }

  async updateConfig(runtimeId: string, name: string, config: VersionDoc['config']): Promise<void> {
    const id = keys.version(runtimeId, name);
    await leased(this.model as never, `version:${id}`, async () => {
      await this.model
        .updateOne({ _id: id }, { $set: { config, updatedAt: this.clock.now() } })
        .exec();
    });
  }

  async remove(runtimeId: string, name: string): Promise<void> {
    await this.model.deleteOne({ _id: keys.version(runtimeId, name) }).exec();
  }

  /**
   * The version's own idle time (scale to zero); null: the installation's default again.
   * @throws VersionNotFoundError
   */
  async setIdleSeconds(
    runtimeId: string,
    name: string,
    idleSeconds: number | null,
  ): Promise<VersionDoc> {
    const id = keys.version(runtimeId, name);
    return leased(this.model as never, `version:${id}`, async () => {
      await this.get(runtimeId, name);
      const now = this.clock.now();
      await this.model
        .updateOne(
          { _id: id },
          idleSeconds === null
            ? { $set: { updatedAt: now }, $unset: { 'scale.idleSeconds': 1 } }
            : { $set: { 'scale.idleSeconds': idleSeconds, updatedAt: now } },
        )
        .exec();
      return this.get(runtimeId, name);
    });
  }

  /**
   * One node's autoscaling bounds (docs/lifecycle.md, "Autoscaling"); null: back to its KRT
   * `replicas`. The caller checks the node exists and the bounds hold.
   * @throws VersionNotFoundError
   */
  async setNodeAutoscale(
    runtimeId: string,
    name: string,
    target: { workflow: string; node: string },
    bounds: { min: number; max: number } | null,
  ): Promise<VersionDoc> {
    const id = keys.version(runtimeId, name);
    return leased(this.model as never, `version:${id}`, async () => {
      const version = await this.get(runtimeId, name);
      const others = (version.scale?.autoscale ?? []).filter(
        (a) => a.workflow !== target.workflow || a.node !== target.node,
      );
      const autoscale = bounds ? [...others, { ...target, ...bounds }] : others;
      await this.model
        .updateOne(
          { _id: id },
          { $set: { 'scale.autoscale': autoscale, updatedAt: this.clock.now() } },
        )
        .exec();
      return this.get(runtimeId, name);
    });
  }

  /** Sets the entrypoint's autoscaling bounds, or clears them (null: one replica). */
  async setEntrypointAutoscale(
    runtimeId: string,
    name: string,
    bounds: { min: number; max: number } | null,
  ): Promise<VersionDoc> {
    const id = keys.version(runtimeId, name);
    return leased(this.model as never, `version:${id}`, async () => {
      await this.get(runtimeId, name); // NotFound when there is no such version
      await this.model
        .updateOne(
          { _id: id },
          bounds
            ? {
                $set: {
                  'scale.entrypointAutoscale': { min: bounds.min, max: bounds.max },
                  updatedAt: this.clock.now(),
                },
              }
            : { $unset: { 'scale.entrypointAutoscale': 1 }, $set: { updatedAt: this.clock.now() } },
        )
        .exec();
      return this.get(runtimeId, name);
    });
  }

  /**
   * The replicas an awake version runs after autoscaling changed a node (its state stays), and
   * each bounded node's count (`nodeReplicas`, which config rolls plan with).
   */
  async setScaleReplicas(
    runtimeId: string,
    name: string,
    replicas: number,
    nodeReplicas: Readonly<Record<string, number>>,
  ): Promise<void> {
    await this.model
      .updateOne(
        { _id: keys.version(runtimeId, name), 'scale.state': 'AWAKE' },
        {
          $set: {
            'scale.replicas': replicas,
            'scale.nodeReplicas': Object.entries(nodeReplicas).map(([workload, count]) => ({
              workload,
              replicas: count,
            })),
          },
        },
      )
      .exec();
  }

  /** Whether the running version is awake, as the deployer last made it (scale to zero). */
  async setScaleState(
    runtimeId: string,
    name: string,
    state: NonNullable<VersionScaleDoc['state']>,
    replicas: number,
  ): Promise<void> {
    const id = keys.version(runtimeId, name);
    await leased(this.model as never, `version:${id}`, async () => {
      await this.model
        .updateOne(
          { _id: id },
          {
            $set: {
              'scale.state': state,
              'scale.replicas': replicas,
              'scale.since': this.clock.now(),
            },
            // A start, sleep or wake begins again from the bounds (the autoscaler's own counts).
            $unset: { 'scale.nodeReplicas': 1 },
          },
        )
        .exec();
    });
  }
}

/** Lean reads return BSON `Binary` for Buffer fields; hydrated ones a Buffer. */
function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Binary)
    return Buffer.from(data.buffer.buffer, data.buffer.byteOffset, data.position);
  throw new Error('a KRT chunk holds no binary data');
}

/** The uploaded KRT archives, as chunk documents `<rt>:<ver>:<n>` in the platform database. */
@Injectable()
export class KrtArchiveStore {
  constructor(@InjectModel(KRT_CHUNK_MODEL) private readonly model: Model<KrtChunkDoc>) {}

  /**
   * Stores `source` (a file path or a byte stream) as chunks; on failure removes what it wrote.
   * One chunk-sized buffer is filled and reused for the whole archive: a file is read straight
   * into it, and a stream's pieces are copied into it. A read stream's buffers plus a concat
   * per chunk, all left to the GC, cost a 100 MB upload twice as many full GCs (bench/upload.ts).
   */
  async save(
    runtimeId: string,
    version: string,
    source: string | Readable,
  ): Promise<{ size: number; chunks: number; sha256: string }> {
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(KRT_CHUNK_BYTES);
    let filled = 0;
    let chunks = 0;
    let size = 0;
    // Awaited before `chunk` is refilled: the driver has serialized it by then.
    const flush = async () => {
      const data = chunk.subarray(0, filled);
      hash.update(data);
      await this.model.collection.insertOne({
        _id: keys.krtChunk(runtimeId, version, chunks),
        data,
      } as never);
      chunks += 1;
      size += filled;
      filled = 0;
    };
    try {
      if (typeof source === 'string') {
        const file = await open(source, 'r');
        try {
          for (;;) {
            const { bytesRead } = await file.read(chunk, filled, KRT_CHUNK_BYTES - filled, null);
            if (bytesRead === 0) break;
            filled += bytesRead;
            if (filled === KRT_CHUNK_BYTES) await flush();
          }
        } finally {
          await file.close();
        }
      } else {
        for await (const piece of source as AsyncIterable<Uint8Array | string>) {
          const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
          for (let at = 0; at < bytes.length;) {
            const n = Math.min(bytes.length - at, KRT_CHUNK_BYTES - filled);
            chunk.set(bytes.subarray(at, at + n), filled);
            filled += n;
            at += n;
            if (filled === KRT_CHUNK_BYTES) await flush();
          }
        }
      }
      if (filled > 0) await flush();
      return { size, chunks, sha256: hash.digest('hex') };
    } catch (error) {
      await this.remove(runtimeId, version, chunks + 1);
      throw error;
    }
  }

  /** The archive as a stream, one chunk in memory at a time. */
  open(runtimeId: string, version: string, chunks: number): Readable {
    const model = this.model;
    return Readable.from(
      (async function* () {
        for (let n = 0; n < chunks; n++) {
          const doc = await model
            .findById(keys.krtChunk(runtimeId, version, n))
            .lean<KrtChunkDoc>()
            .exec();
          if (!doc) throw new Error(`KRT chunk ${n} of ${runtimeId}/${version} is missing`);
          yield toBuffer(doc.data);
        }
      })(),
    );
  }

  async remove(runtimeId: string, version: string, chunks: number): Promise<void> {
    for (let n = 0; n < chunks; n++)
      await this.model.deleteOne({ _id: keys.krtChunk(runtimeId, version, n) }).exec();
  }
}
