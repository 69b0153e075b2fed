import {
  BadUserInputError,
  ConflictError,
  NotFoundError,
  RUNNING_STATUSES,
  UserActivityType,
  VERSION_TRANSITIONS,
  VersionStatus,
  type VersionAction,
} from '@libs/core';
import { VersionJobsProducer } from '@libs/jobs';
import { openKrt, readKrtDocument } from '@libs/krt';
import { Names } from '@libs/naming';
import {
  ConfigCipher,
  ConfigValueUnreadableError,
  KrtArchiveStore,
  LegacyConfigValueError,
  VersionsRepository,
  unsetConfigKeys,
  type ConfigValueDoc,
  type VersionDoc,
} from '@libs/persistence';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { QueueUnavailableError, RuntimesService } from '../runtimes/runtimes.service.js';

const ACTIVITY_OF: Record<VersionAction, UserActivityType> = {
  start: UserActivityType.START_VERSION,
  stop: UserActivityType.STOP_VERSION,
  publish: UserActivityType.PUBLISH_VERSION,
  unpublish: UserActivityType.UNPUBLISH_VERSION,
  delete: UserActivityType.DELETE_VERSION,
};

/**
 * Largest config variable (UTF-8 bytes): variables reach workloads only as environment
 * variables, which Linux caps at 128 KiB each. The same limit as `MAX_CONFIG_ENV_BYTES` of
 * `plan()` (@libs/orchestrator), above which a file is not exported to the environment.
 */
const MAX_VARIABLE_BYTES = 100 * 1024;

/**
 * Replica bounds as a MANAGER sent them: both set (1 ≤ min ≤ max, the input's own limits checked
 * before) or both null (back to `cleared`, no autoscaling).
 * @throws BadUserInputError naming `input.min` or `input.max`
 */
function autoscaleBounds(
  input: { min?: number | null; max?: number | null },
  cleared: string,
): { min: number; max: number } | null {
  const min = input.min ?? null;
  const max = input.max ?? null;
  if ((min === null) !== (max === null))
    throw new BadUserInputError([
      {
        field: min === null ? 'input.min' : 'input.max',
        message: `must be set with the other bound (both null: back to ${cleared})`,
      },
    ]);
  if (min !== null && max !== null && max < min)
    throw new BadUserInputError([
      { field: 'input.max', message: `must be at least input.min (${min}), not ${max}` },
    ]);
  return min !== null && max !== null ? { min, max } : null;
}

@Injectable()
export class VersionsService {
  private readonly logger = new Logger(VersionsService.name);

  constructor(
    private readonly versions: VersionsRepository,
    private readonly archives: KrtArchiveStore,
    private readonly cipher: ConfigCipher,
    private readonly runtimes: RuntimesService,
    private readonly jobs: VersionJobsProducer,
    private readonly audit: AuditService,
    private readonly names: Names,
  ) {}

  /**
   * Validates an uploaded KRT (a file on disk) and stores it: the archive as chunks, then the
   * version record (the commit point). On any error nothing stays behind.
   * @throws KrtInvalidError (422) | ConflictError | RuntimeNotFoundError
   */
  async upload(me: Principal, runtimeId: string, file: string): Promise<VersionDoc> {
    await this.runtimes.requireReady(runtimeId);
    const { krt } = await openKrt(file, { prefix: this.names.prefix, runtimeId });
    if (await this.versions.find(runtimeId, krt.version)) {
      throw new ConflictError(
        `runtime "${runtimeId}" already has a version "${krt.version}": change \`version\` in the manifest`,
        {
          runtimeId,
          versionName: krt.version,
        },
      );
    }
    const stored = await this.archives.save(runtimeId, krt.version, file);
    try {
      const version = await this.versions.create({
        runtimeId,
        name: krt.version,
        description: krt.description,
        status: VersionStatus.CREATED,
        krt,
        config: await this.inheritedConfig(runtimeId, krt.version, krt.config),
        krtSize: stored.size,
        krtChunks: stored.chunks,
        krtSha256: stored.sha256,
        createdBy: me.id,
      });
      await this.audit.record({
        type: UserActivityType.CREATE_VERSION,
        user: me,
        runtimeId,
        vars: { versionName: krt.version },
      });
      return version;
    } catch (error) {
      await this.archives.remove(runtimeId, krt.version, stored.chunks);
      throw error;
    }
  }

  get(runtimeId: string, name: string): Promise<VersionDoc> {
    return this.versions.get(runtimeId, name);
  }

  list(runtimeId: string): Promise<VersionDoc[]> {
    return this.versions.list(runtimeId);
  }

  /** The name of the runtime's published version, if any (one read, whatever the count). */
  publishedName(runtimeId: string): Promise<string | null> {
    return this.versions.publishedName(runtimeId);
  }

  /**
   * A lifecycle action: sets the status of VERSION_TRANSITIONS at once (compare-and-set) and
   * queues the job; when queueing fails the status goes back and the caller gets an error.
   * @throws InvalidTransitionError naming the current status | ConflictError
   */
  async act(
    me: Principal,
    action: VersionAction,
    runtimeId: string,
    name: string,
    comment: string,
  ): Promise<VersionDoc> {
    const transition = VERSION_TRANSITIONS[action];
    let previous: VersionDoc;
    let previouslyPublished: string | undefined;
    if (action === 'publish') {
      previous = await this.versions.get(runtimeId, name);
      previouslyPublished = await this.versions.publish(runtimeId, name, me.id);
    } else {
      if (action === 'start') {
        const version = await this.versions.get(runtimeId, name);
        const missing = unsetConfigKeys(version.config);
        if (missing.length > 0 && transition.from.includes(version.status)) {
          throw new BadUserInputError(
            missing.map((key) => ({
              field: `config.${key}`,
              message: 'has no value: set it with updateVersionUserConfiguration',
            })),
            `the config is not complete: ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no value`,
          );
        }
      }
      ({ previous } = await this.versions.transition(
        runtimeId,
        name,
        transition.from,
        transition.now,
      ));
    }
    try {
      await this.jobs.add(transition.job, { runtimeId, versionName: name, by: me.id });
    } catch (error) {
      await this.rollback(runtimeId, name, transition.now, previous.status, previouslyPublished);
      throw new QueueUnavailableError(error);
    }
    await this.audit.record({
      type: ACTIVITY_OF[action],
      user: me,
      runtimeId,
      vars: {
        versionName: name,
        comment,
        ...(previouslyPublished ? { unpublished: previouslyPublished } : {}),
      },
    });
    return { ...previous, status: transition.now };
  }

  /**
   * Sets config values (unknown keys are refused, each named); a running version's
   * workloads roll onto the new values.
   */
  async updateConfig(
    me: Principal,
    runtimeId: string,
    name: string,
    values: readonly { key: string; value: string }[],
  ): Promise<VersionDoc> {
    const version = await this.versions.get(runtimeId, name);
    const known = new Set(version.config.map((c) => c.key));
    const unknown = values.map((v, i) => ({ ...v, i })).filter((v) => !known.has(v.key));
    if (unknown.length > 0) {
      throw new BadUserInputError(
        unknown.map((v) => ({
          field: `input.configurationVariables.${v.i}.key`,
          message: `"${v.key}" is not a config key of this version (known: ${[...known].join(', ') || 'none'})`,
        })),
      );
    }
    const variables = new Set(
      version.config.filter((c) => c.type === 'VARIABLE').map((c) => c.key),
    );
    const tooLarge = values
      .map((v, i) => ({ key: v.key, bytes: Buffer.byteLength(v.value, 'utf8'), i }))
      .filter((v) => variables.has(v.key) && v.bytes > MAX_VARIABLE_BYTES);
    if (tooLarge.length > 0) {
      throw new BadUserInputError(
        tooLarge.map((v) => ({
          field: `input.configurationVariables.${v.i}.value`,
          message: `"${v.key}" is a variable of ${Math.ceil(v.bytes / 1024)} KiB; a variable may hold at most ${MAX_VARIABLE_BYTES / 1024} KiB (it is passed as an environment variable): declare larger values under config.files in the manifest (files take up to 1 MiB)`,
        })),
      );
    }
    const updates = new Map(
      values.map((v) => [
        v.key,
        this.cipher.encrypt(v.value, { runtimeId, versionName: name, key: v.key }),
      ]),
    );
    const config = version.config.map((entry) =>
      updates.has(entry.key) ? { ...entry, value: updates.get(entry.key) } : entry,
    );
    await this.versions.updateConfig(runtimeId, name, config);
    if (RUNNING_STATUSES.includes(version.status)) {
      try {
        await this.jobs.add('update-config', { runtimeId, versionName: name, by: me.id });
      } catch (error) {
        await this.versions.updateConfig(runtimeId, name, version.config);
        throw new QueueUnavailableError(error);
      }
    }
    await this.audit.record({
      type: UserActivityType.UPDATE_VERSION_CONFIGURATION,
      user: me,
      runtimeId,
      vars: { versionName: name, keys: values.map((v) => v.key).join(',') },
    });
    return { ...version, config };
  }

  /**
   * Sets the version's own idle time (scale to zero), or back to the installation's default
   * (null); the deployer reads it at its next sweep, so a running version needs no job.
   */
  async updateScale(
    me: Principal,
    runtimeId: string,
    name: string,
    idleSeconds: number | null,
    comment: string,
  ): Promise<VersionDoc> {
    const version = await this.versions.setIdleSeconds(runtimeId, name, idleSeconds);
    await this.audit.record({
      type: UserActivityType.UPDATE_VERSION_SCALE,
      user: me,
      runtimeId,
      vars: {
        versionName: name,
        idleSeconds: idleSeconds === null ? 'default' : String(idleSeconds),
        comment,
      },
    });
    return version;
  }

  /**
   * Sets a node's autoscaling bounds (docs/lifecycle.md, "Autoscaling"), or clears them (min and
   * max null). A running version's deployer reads them at its next sample, so no job is needed;
   * a stopped one starts at min.
   */
  async updateNodeAutoscale(
    me: Principal,
    input: {
      runtimeId: string;
      versionName: string;
      workflowName: string;
      nodeName: string;
      min?: number | null;
      max?: number | null;
      comment: string;
    },
  ): Promise<VersionDoc> {
    const { runtimeId, versionName, workflowName, nodeName } = input;
    const version = await this.versions.get(runtimeId, versionName);
    const workflow = version.krt.workflows.find((w) => w.name === workflowName);
    if (!workflow)
      throw new BadUserInputError([
        {
          field: 'input.workflowName',
          message: `"${workflowName}" is not a workflow of this version (known: ${version.krt.workflows.map((w) => w.name).join(', ')})`,
        },
      ]);
    if (!workflow.nodes.some((n) => n.name === nodeName))
      throw new BadUserInputError([
        {
          field: 'input.nodeName',
          message: `"${nodeName}" is not a node of workflow "${workflowName}" (known: ${workflow.nodes.map((n) => n.name).join(', ')})`,
        },
      ]);
    const bounds = autoscaleBounds(input, "the KRT's replicas");
    const updated = await this.versions.setNodeAutoscale(
      runtimeId,
      versionName,
      { workflow: workflowName, node: nodeName },
      bounds,
    );
    await this.audit.record({
      type: UserActivityType.UPDATE_NODE_AUTOSCALE,
      user: me,
      runtimeId,
      vars: {
        versionName,
        node: `${workflowName}.${nodeName}`,
        bounds: bounds ? `${bounds.min}..${bounds.max}` : 'krt',
        comment: input.comment,
      },
    });
    return updated;
  }

  /**
   * Sets the entrypoint's autoscaling bounds on the calls in flight (docs/lifecycle.md,
   * "Autoscaling"), or clears them (min and max null: one replica). As for a node's, a running
   * version's deployer reads them at its next sample: no job.
   */
  async updateEntrypointAutoscale(
    me: Principal,
    input: {
      runtimeId: string;
      versionName: string;
      min?: number | null;
      max?: number | null;
      comment: string;
    },
  ): Promise<VersionDoc> {
    const { runtimeId, versionName } = input;
    const bounds = autoscaleBounds(input, 'one replica');
    const updated = await this.versions.setEntrypointAutoscale(runtimeId, versionName, bounds);
    await this.audit.record({
      type: UserActivityType.UPDATE_ENTRYPOINT_AUTOSCALE,
      user: me,
      runtimeId,
      vars: {
        versionName,
        bounds: bounds ? `${bounds.min}..${bounds.max}` : 'one',
        comment: input.comment,
      },
    });
    return updated;
  }

  /**
   * Removes config values: each key is then not set, as after the upload (unknown keys are
   * refused, each named). A version that runs or is on its way is refused: it runs only with a
   * complete config.
   */
  async unsetConfig(
    me: Principal,
    runtimeId: string,
    name: string,
    keys: readonly string[],
  ): Promise<VersionDoc> {
    const version = await this.versions.get(runtimeId, name);
    const known = new Set(version.config.map((c) => c.key));
    const unknown = keys.map((key, i) => ({ key, i })).filter((k) => !known.has(k.key));
    if (unknown.length > 0) {
      throw new BadUserInputError(
        unknown.map((k) => ({
          field: `input.keys.${k.i}`,
          message: `"${k.key}" is not a config key of this version (known: ${[...known].join(', ') || 'none'})`,
        })),
      );
    }
    // Only where a start could begin (the deployer checks the config again when one does).
    if (!VERSION_TRANSITIONS.start.from.includes(version.status)) {
      throw new ConflictError(
        `version "${name}" is ${version.status}: values can be unset only while it is ${VERSION_TRANSITIONS.start.from.join(', ')} (stop it first, or set new values instead)`,
        { status: version.status },
      );
    }
    const gone = new Set(keys);
    const config = version.config.map((entry) =>
      gone.has(entry.key) ? { key: entry.key, type: entry.type } : entry,
    );
    await this.versions.updateConfig(runtimeId, name, config);
    await this.audit.record({
      type: UserActivityType.UPDATE_VERSION_CONFIGURATION,
      user: me,
      runtimeId,
      vars: { versionName: name, keys: keys.join(','), unset: 'true' },
    });
    return { ...version, config };
  }

  /**
   * Decrypted value (callers hide it from VIEWERs).
   * @throws LegacyConfigValueError (set the value again) | ConfigValueUnreadableError
   */
  reveal(version: VersionDoc, entry: ConfigValueDoc): string | null {
    if (entry.value === undefined) return null;
    return this.cipher.decrypt(entry.value, {
      runtimeId: version.runtimeId,
      versionName: version.name,
      key: entry.key,
    });
  }

  /** A file under docs/ of the version's KRT. @throws NotFoundError | BadUserInputError */
  async doc(runtimeId: string, name: string, path: string): Promise<string> {
    const version = await this.versions.get(runtimeId, name);
    const wanted = path.replace(/^\/+/, '');
    if (!version.krt.docs.includes(wanted)) throw new NotFoundError('document', wanted);
    const doc = await readKrtDocument(
      this.archives.open(runtimeId, name, version.krtChunks),
      wanted,
      {
        prefix: this.names.prefix,
        runtimeId,
      },
    );
    if (doc.found) return doc.content;
    if (doc.reason === 'too-big')
      throw new BadUserInputError([{ field: 'path', message: doc.message }]);
    throw new NotFoundError('document', wanted);
  }

  /**
   * The manifest's keys, each with the value of the newest earlier version that had one, sealed
   * again for the new version (a sealed value opens only for its own version and key). A value
   * that does not open (old format, another key) is left unset, so the user sets it again.
   */
  private async inheritedConfig(
    runtimeId: string,
    versionName: string,
    config: { variables: string[]; files: string[] },
  ): Promise<ConfigValueDoc[]> {
    const earlier = await this.versions.list(runtimeId); // newest first
    const find = (key: string) => {
      const source = earlier.find((v) => v.config.some((c) => c.key === key && c.value));
      const sealed = source?.config.find((c) => c.key === key)?.value;
      if (!source || !sealed) return undefined;
      try {
        return this.cipher.reseal(
          sealed,
          { runtimeId, versionName: source.name, key },
          { runtimeId, versionName, key },
        );
      } catch (error) {
        if (!(
          error instanceof LegacyConfigValueError || error instanceof ConfigValueUnreadableError
        ))
          throw error;
        this.logger.warn(`${runtimeId}/${versionName}: ${key} not inherited: ${error.message}`);
        return undefined;
      }
    };
    return [
      ...config.variables.map((key) => ({ key, type: 'VARIABLE' as const, value: find(key) })),
      ...config.files.map((key) => ({ key, type: 'FILE' as const, value: find(key) })),
    ].map((entry) => (entry.value === undefined ? { key: entry.key, type: entry.type } : entry));
  }

  private async rollback(
    runtimeId: string,
    name: string,
    now: VersionStatus,
    before: VersionStatus,
    previouslyPublished?: string,
  ): Promise<void> {
    try {
      await this.versions.transition(runtimeId, name, [now], before);
      if (previouslyPublished && previouslyPublished !== name) {
        await this.versions.transition(
          runtimeId,
          previouslyPublished,
          [VersionStatus.STARTED],
          VersionStatus.PUBLISHED,
        );
      }
    } catch (error) {
      this.logger.error(`rollback of ${runtimeId}/${name} to ${before} failed: ${String(error)}`);
    }
  }
}
