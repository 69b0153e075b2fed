import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '@libs/naming';
import { z } from 'zod';

/**
 * Who may call a runtime through the gateway: KV bucket `<p>_invocation_keys`, one entry per
 * runtime (key = runtime id), written by admin-api (on every change and at its start), watched
 * by every gateway (which has no database). A gateway looks a caller's key up in O(1): the
 * runtime's entry, then the key's SHA-256 in a Map built once per entry.
 *   `{incarnation, generation, requireKey, keys: [{id, hash, expiresAt}]}`   (revoked keys are left out; expired ones
 *   stay until the next write, so the gateway checks `expiresAt` on every call)
 * A runtime with no entry is closed (fail closed: the gateway answers 401 for it).
 */
export const invocationKeyEntrySchema = z.object({
  id: z.string().min(1),
  /** SHA-256 of the key, 64 lowercase hex characters. */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
  /** ISO date; null: never expires. */
  expiresAt: z.iso.datetime().nullable(),
});
export const runtimeInvocationKeysSchema = z.object({
  /**
   * Which runtime of that id the entry describes (its creation time): a runtime created again
   * after a deletion starts its generations anew, and its entry replaces the old one's whatever
   * their generations.
   */
  incarnation: z.string().optional(),
  /** The runtime's `invocationKeysGeneration` this entry was built from (newer wins). */
  generation: z.number().int().min(0),
  requireKey: z.boolean(),
  keys: z.array(invocationKeyEntrySchema),
});
export type InvocationKeyEntry = z.infer<typeof invocationKeyEntrySchema>;
export type RuntimeInvocationKeys = z.infer<typeof runtimeInvocationKeysSchema>;

/**
 * What a gateway reports on `<p>.svc.gateway.key-used` when a key was used (at most once a
 * minute per key and gateway): admin-api records it as the key's `lastUsedAt`.
 */
export const invocationKeyUsedSchema = z.object({
  runtimeId: z.string().min(1),
  keyId: z.string().min(1),
  at: z.iso.datetime(),
});
export type InvocationKeyUsed = z.infer<typeof invocationKeyUsedSchema>;

/** The prefix of every invocation key (`kre_ik_` + 40 base62 characters). */
export const INVOCATION_KEY_PREFIX = 'kre_ik_';
export const INVOCATION_KEY_LENGTH = INVOCATION_KEY_PREFIX.length + 40;

/** Opens (creating if needed) the invocation keys bucket. */
export function openInvocationKeys(nc: NatsConnection, names: Names): Promise<KV> {
  return new Kvm(nc).create(names.invocationKeysBucket(), { history: 1 });
}

/**
 * The gateways' side: binds to the bucket admin-api creates, never creating it (a gateway may
 * only read it). Rejects while the bucket does not exist.
 */
export async function bindInvocationKeys(nc: NatsConnection, names: Names): Promise<KV> {
  const kv = await new Kvm(nc).open(names.invocationKeysBucket());
  await kv.status(); // the stream's info: fails until admin-api has created it
  return kv;
}

/** admin-api's side: writes and removes a runtime's entry. */
export class InvocationKeysBucket {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, names: Names): Promise<InvocationKeysBucket> {
    return new InvocationKeysBucket(await openInvocationKeys(nc, names));
  }

  /**
   * Writes the runtime's entry unless the bucket holds one of the same runtime (incarnation) and
   * the same or a newer generation (compare-and-set on the KV revision, so of two writers the
   * newer state wins). True when it wrote.
   */
  async put(runtimeId: string, entry: RuntimeInvocationKeys): Promise<boolean> {
    const value = JSON.stringify(runtimeInvocationKeysSchema.parse(entry));
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.kv.get(runtimeId);
      try {
        if (!current || current.operation !== 'PUT') {
          if (current) await this.kv.update(runtimeId, value, current.revision);
          else await this.kv.create(runtimeId, value);
          return true;
        }
        const parsed = runtimeInvocationKeysSchema.safeParse(current.json());
        const sameRuntime = parsed.success && parsed.data.incarnation === entry.incarnation;
        if (sameRuntime && parsed.data.generation >= entry.generation) return false;
        await this.kv.update(runtimeId, value, current.revision);
        return true;
      } catch (error) {
        // Another writer got in between: read again. Anything else is a real failure.
        const lostRace =
          error instanceof JetStreamApiError &&
          (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
            error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
        if (!lostRace) throw error;
      }
    }
    throw new Error(`the invocation keys of runtime "${runtimeId}" kept changing: try again`);
  }

  async remove(runtimeId: string): Promise<void> {
    await this.kv.delete(runtimeId);
  }

  /** The runtime ids that have an entry (reconciling removes those of deleted runtimes). */
  async runtimeIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of await this.kv.keys()) ids.push(key);
    return ids;
  }

  async get(runtimeId: string): Promise<RuntimeInvocationKeys | null> {
    const entry = await this.kv.get(runtimeId);
    if (!entry || entry.operation !== 'PUT') return null;
    const parsed = runtimeInvocationKeysSchema.safeParse(entry.json());
    return parsed.success ? parsed.data : null;
  }
}
