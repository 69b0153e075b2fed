import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chown,
  lchown,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { driverWorkloadEnv } from '@libs/config';
import type { ReplicaResources } from '@libs/core';
import { readPythonRequirements } from '@libs/krt';
import {
  ENTRYPOINT_WORKLOAD,
  configMaskerOf,
  type DeploymentPlan,
  type PortName,
  type WorkloadSpec,
} from '../deployment-plan.js';
import {
  type ApplyOptions,
  type OrchestratorDriver,
  type ReplicaStatus,
  type ReplicaUsage,
  type VersionEndpoints,
  type VersionUsage,
  WorkloadsNotReadyError,
} from '../driver.js';
import { type Cgroups, joinArgs, type WorkloadLimits } from './cgroups.js';
import { CpuRates, type UsageSample, replicaUsage } from './replica-usage.js';
import { freePort } from './free-port.js';
import { type ReplicaNetwork, type WorkloadNetworks } from './workload-network.js';
import { type PythonEnvs, SANDBOX_VENV } from './python-env.js';
import { SHARED_WORKLOAD, type SharedProcessSpec, sharedProcessOf } from './shared-process.js';
import {
  descendants,
  isSameProcess,
  processGroupOf,
  processStartTime,
  processesWithEnv,
  signalGroup,
  signalProcess,
} from './proc.js';
import {
  type SandboxIdRange,
  type SandboxTools,
  realProgramPath,
  runtimeIds,
  sandboxArgv,
  sandboxTools,
} from './sandbox.js';

/** Marks every process this installation's local driver starts (`<prefix>@<stateDir>`). */
export const OWNER_ENV = 'KRE_WORKLOAD_OWNER';
/**
 * Marks a workload's bwrap and its PID-namespace init with `<owner> <token of this start>`: so
 * the workload's program is still the one process with OWNER_ENV per replica, and the init of
 * a sandbox whose bwrap died is found (and never another process that reused a pid).
 */
const SANDBOX_ENV = 'KRE_WORKLOAD_SANDBOX';
/** The version's NATS credentials, under `<version dir>/secrets/`. */
const CREDENTIALS_FILE = 'nats.creds';

/** A replica's control group: `<p>-<rt>-<ver>-<workload>-<n>`. */
function cgroupName(prefix: string, plan: DeploymentPlan, replica: ReplicaRecord): string {
  return `${prefix}-${plan.runtimeId}-${plan.versionName}-${replica.workloadId}-${replica.replica}`;
}

export interface LocalDriverOptions {
  /** `${XDG_STATE_HOME:-~/.local/state}/<prefix>`: registries, extracted KRTs, logs. */
  stateDir: string;
  /** The installation prefix (part of the ownership marker). */
  prefix: string;
  /** Node.js binary that runs the workload programs. */
  nodeBinary: string;
  /** Built programs: `entrypoint` and `runner` main files. */
  programs: Record<Exclude<WorkloadSpec['program'], 'runner-python'>, string>;
  /**
   * Python nodes' environments (`runner-python`: `<venv>/bin/python -m kre_runner`): built by
   * the deployer's preparation before the workloads start, looked up again here (a cache hit).
   * Unset: a Python node fails to start, saying so.
   */
  pythonEnvs?: PythonEnvs;
  /**
   * The fetch step: puts the version's KRT at `dest` (one implementation, shared with the
   * Kubernetes init container: `runner fetch-krt`).
   */
  fetchKrt(plan: DeploymentPlan, dest: string): Promise<void>;
  /** SIGTERM → SIGKILL grace period. */
  stopGraceMs?: number;
  /** Supervision period. */
  tickMs?: number;
  /** Environment every workload inherits (PATH, HOME, …); nothing else of the deployer's leaks. */
  baseEnv?: Record<string, string>;
  /**
   * Run every workload in the one-machine sandbox (sandbox.ts): the runtime's own uid and gid
   * (from this range) when the deployer is root, else an unprivileged user namespace. Unset:
   * workloads run as the deployer's user (only tests of the driver itself leave it unset).
   */
  sandbox?: LocalSandboxOptions;
  /**
   * Memory, CPU and process limits of every replica, in a control group of its own (cgroups.ts:
   * v2 or v1, as the machine has them). Unset, or a machine without writable cgroups: none.
   */
  limits?: { cgroups: Cgroups; defaults: WorkloadLimits };
  /**
   * Each sandboxed replica in a network namespace of its own, from which only NATS is reachable
   * (workload-network.ts; root only). Unset: workloads share the machine's network.
   */
  network?: WorkloadNetworks;
  /**
   * Run a version's entrypoint and JavaScript nodes (their first replica) in one process
   * (`runner shared`, shared-process.ts), as a version of one tenant is one trust domain: an
   * idle version then holds one Node process instead of one per workload (docs/lifecycle.md,
   * "Density"). Unset: a process per replica.
   */
  sharedProcess?: boolean;
}

export interface LocalSandboxOptions extends SandboxIdRange {
  /**
   * Host paths the programs load besides themselves and Node (the built `dist`, `node_modules`,
   * `proto`, `package.json`), shown read-only at the same paths.
   */
  programFiles: readonly string[];
  /** Where `bwrap` and `setpriv` are looked up (the deployer's PATH). */
  hostPath?: string;
}

interface ReplicaRecord {
  workloadId: string;
  replica: number;
  specHash: string;
  ports: Partial<Record<PortName, number>>;
  pid?: number;
  startTime?: number;
  restarts: number;
  /** Epoch ms before which no restart is attempted (backoff). */
  notBefore: number;
  startedAt?: number;
  message?: string;
  /** How its process ended (`exited with code 1`, `killed by SIGKILL`), when this deployer started it. */
  exit?: string;
  /** A Python node's environment: the venv on the host and the Python installation it uses. */
  python?: { venv: string; prefix: string };
  /**
   * Set when `pid` is bwrap's (to the start's SANDBOX_ENV value): the program runs two
   * generations below it (bwrap → the PID namespace's init, which leads a session and process
   * group of its own → the program, in that group).
   */
  sandbox?: string;
  /** Its control group's name (removed once it is gone). */
  cgroup?: string;
  /**
   * Its network namespace's index (workload-network.ts): kept across restarts and replacements,
   * so its address (the route to an entrypoint) stays; released when the replica is dropped.
   */
  network?: number;
}

interface VersionRecord {
  /** `released`: asleep (scale to zero), its replicas keep their ports and networks. */
  desired: 'running' | 'stopped' | 'released';
  plan: DeploymentPlan;
  /** The version's shared process (`sharedProcess`), whose record is `SHARED_WORKLOAD`'s. */
  shared?: SharedProcessSpec;
  replicas: ReplicaRecord[];
}

/** What the driver runs: a workload of the plan, or a version's shared process. */
type LocalWorkload = WorkloadSpec | SharedProcessSpec;

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A replica that ran this long is healthy again: its backoff resets. */
const STABLE_AFTER_MS = 30_000;

/**
 * Runs each workload replica as a supervised process in its own process group, recorded in a
 * registry under the state dir, so a deployer restart (even SIGKILL) neither interrupts nor
 * duplicates workloads: the next deployer adopts them.
 */
export class LocalDriver implements OrchestratorDriver {
  readonly installsDependencies = 'deployer';
  private readonly logger = new Logger(LocalDriver.name);
  private readonly versions = new Map<string, VersionRecord>();
  private readonly reservedPorts = new Set<number>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly owner: string;
  private tools?: SandboxTools;
  /** Replicas being stopped or replaced: supervision never (re)starts them. */
  private readonly terminating = new WeakSet<ReplicaRecord>();
  private readonly asRoot = process.getuid?.() === 0;

  constructor(private readonly options: LocalDriverOptions) {
    this.owner = `${options.prefix}@${options.stateDir}`;
  }

  // ─── Public API ──────────────────────────────────────────────────────────

  async adopt(): Promise<void> {
    await mkdir(this.options.stateDir, { recursive: true });
    this.sandboxTools(); // a deployer that cannot sandbox says so at start, not at each spawn
    await this.network()?.start();
    const known = new Set<number>();
    for (const { key, record } of await this.readAllRegistries()) {
      this.versions.set(key, record);
      for (const r of record.replicas) {
        Object.values(r.ports).forEach((p) => this.reservedPorts.add(p));
        if (r.pid && r.startTime && (await isSameProcess(r.pid, r.startTime))) {
          known.add(r.pid);
          // A sandboxed replica's marked program is bwrap's descendant.
          for (const pid of await descendants(r.pid)) known.add(pid);
        } else delete r.pid;
      }
      if (record.desired === 'stopped')
        await this.stop(record.plan.runtimeId, record.plan.versionName);
    }
    // Whatever carries our marker but is in no registry is a leftover: nothing may run twice.
    for (const pid of await processesWithEnv(OWNER_ENV, this.owner)) {
      if (!known.has(pid) && pid !== process.pid) {
        this.logger.warn(`killing unknown workload process ${pid}`);
        // Its group: unsandboxed it leads it; sandboxed, the PID namespace's init does, whose
        // death ends the whole sandbox.
        const group = await processGroupOf(pid);
        if (group && group !== process.pid) signalGroup(group, 'SIGKILL');
        signalProcess(pid, 'SIGKILL');
      }
    }
    await this.pruneEnvironments();
    const network = this.network();
    if (network) {
      const inUse = new Set<number>();
      for (const record of this.versions.values())
        for (const r of record.replicas) if (r.network !== undefined) inUse.add(r.network);
      const pruned = await network.prune(inUse, this.owner);
      if (pruned > 0) this.logger.warn(`deleted ${pruned} leftover workload network namespaces`);
    }
    this.startTicking();
    await this.tick();
  }

  get isolatesRuntimes(): boolean {
    return Boolean(this.options.sandbox) && this.asRoot && Boolean(this.network());
  }

  isolation(): Record<string, string> {
    const limits = this.options.limits;
    return {
      sandbox: !this.options.sandbox
        ? 'none'
        : this.asRoot
          ? 'bubblewrap, a uid per runtime'
          : 'bubblewrap in a user namespace, one uid for every runtime',
      network: this.network()?.describe() ?? "the machine's, shared",
      limits:
        limits && limits.cgroups.mode !== 'none'
          ? `${limits.cgroups.mode}: ${Math.round(limits.defaults.memoryBytes / 2 ** 20)} MiB, ${limits.defaults.cpus} CPU, ${limits.defaults.pids} processes per replica`
          : 'none',
    };
  }

  async apply(plan: DeploymentPlan, options: ApplyOptions = {}): Promise<void> {
    const key = versionKey(plan.runtimeId, plan.versionName);
    const dir = this.versionDir(plan.runtimeId, plan.versionName);
    await mkdir(join(dir, 'logs'), { recursive: true });
    const previous = this.versions.get(key);
    // The KRT is extracted once per pinned copy: a scale change or a config roll of a version
    // already here needs no fetch step (a Node process: about half a second of a scale-out).
    const krtPinned = plan.pins?.krtSha256;
    if (!krtPinned || previous?.plan.pins?.krtSha256 !== krtPinned || !existsSync(join(dir, 'krt')))
      await this.options.fetchKrt(plan, join(dir, 'krt'));
    await this.writeConfigFiles(plan, dir);
    await this.writeCredentials(plan, dir);
    const ids = this.sandboxIds(plan.runtimeId);
    // Read-only to the workload anyway (bind); owned by its uid so it can read what it must.
    if (ids) for (const sub of ['krt', 'config', 'secrets']) await chownTree(join(dir, sub), ids);
    const pythonEnvs = await this.pythonEnvsOf(plan, join(dir, 'krt'));

    const shared = this.options.sharedProcess ? sharedProcessOf(plan, this.defaults()) : undefined;
    const replicas: ReplicaRecord[] = [];
    // The replica that served the entrypoint, whichever serves it now (a shared process, or its
    // own, as WORKLOAD_SHARED_PROCESS changed): its ports and address move over, so the routes
    // to the version stay valid.
    const entryBefore = previous && this.replicaOf(previous, ENTRYPOINT_WORKLOAD, 0);
    const hostsEntry = (id: string) =>
      id === ENTRYPOINT_WORKLOAD ||
      (id === SHARED_WORKLOAD && Boolean(shared?.members.includes(ENTRYPOINT_WORKLOAD)));
    for (const workload of [...(shared ? [shared] : []), ...plan.workloads]) {
      // The shared process runs its members' first replica.
      const first = shared?.members.includes(workload.id) ? 1 : 0;
      for (let replica = first; replica < workload.replicas; replica++) {
        const old =
          previous?.replicas.find((r) => r.workloadId === workload.id && r.replica === replica) ??
          (replica === 0 && hostsEntry(workload.id) ? entryBefore : undefined);
        if (old && old.specHash === workload.specHash) {
          old.python = pythonEnvs.get(workload.id); // its next (re)start uses today's
          replicas.push(old);
          continue;
        }
        if (old?.pid) await this.terminate(old);
        replicas.push({
          workloadId: workload.id,
          replica,
          specHash: workload.specHash,
          // A replaced replica keeps its ports and address, so routes to it stay valid.
          ports: old?.ports ?? (await this.allocatePorts(workload.ports)),
          network: old?.network,
          python: pythonEnvs.get(workload.id),
          restarts: 0,
          notBefore: 0,
        });
      }
    }
    // Replicas the new plan no longer has (fewer replicas, removed nodes). A replaced one is not
    // among them: its successor carries its ports and network, which stay reserved.
    const kept = new Set(replicas.map((r) => `${r.workloadId}#${r.replica}`));
    const carried = new Set(replicas.flatMap((r) => Object.values(r.ports)));
    for (const old of previous?.replicas ?? []) {
      if (replicas.includes(old) || kept.has(`${old.workloadId}#${old.replica}`)) continue;
      if (old.pid) await this.terminate(old);
      // Its successor under another id (the entrypoint's) keeps its ports and network.
      if (Object.values(old.ports).some((p) => carried.has(p))) continue;
      Object.values(old.ports).forEach((p) => this.reservedPorts.delete(p));
      await this.releaseNetwork(old);
    }
    const record: VersionRecord = {
      desired: options.released ? 'released' : 'running',
      plan,
      shared,
      replicas,
    };
    this.versions.set(key, record);
    await this.saveRegistry(record);
    this.startTicking();
    await this.tick();
  }

  async waitReady(runtimeId: string, versionName: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = this.versions.get(versionKey(runtimeId, versionName));
      if (!record || record.desired !== 'running') {
        throw new WorkloadsNotReadyError(
          `version "${versionName}" of runtime "${runtimeId}" is not running`,
        );
      }
      const crashing = record.replicas.find((r) => r.restarts >= 3);
      if (crashing) {
        throw new WorkloadsNotReadyError(
          `workload ${this.nameOf(record, crashing)} keeps crashing (${crashing.restarts} restarts): ${crashing.message ?? 'no output'}`,
        );
      }
      const ready = await Promise.all(record.replicas.map((r) => this.isReady(r)));
      if (ready.every(Boolean)) return;
      if (Date.now() > deadline) {
        const waiting = record.replicas
          .filter((_, i) => !ready[i])
          .map((r) => `${this.nameOf(record, r)}#${r.replica}`);
        throw new WorkloadsNotReadyError(`not ready within ${timeoutMs} ms: ${waiting.join(', ')}`);
      }
      await sleep(100);
    }
  }

  /** Runtimes need nothing of the local driver: streams, stores and databases are the deployer's. */
  prepareRuntime(): Promise<void> {
    return Promise.resolve();
  }

  /** The runtime's sandbox folders (its workloads' compile cache). */
  async removeRuntime(runtimeId: string): Promise<void> {
    await rm(join(this.options.stateDir, 'sandbox', runtimeId), { recursive: true, force: true });
  }

  /** Locally the gateway's route is the published address: nothing to do here. */
  publish(): Promise<void> {
    return Promise.resolve();
  }

  unpublish(): Promise<void> {
    return Promise.resolve();
  }

  async release(runtimeId: string, versionName: string): Promise<number> {
    const key = versionKey(runtimeId, versionName);
    const record = this.versions.get(key);
    if (!record || record.desired === 'stopped') return 0;
    // Persist the intent first: a deployer that dies meanwhile leaves it released when it adopts.
    record.desired = 'released';
    await this.saveRegistry(record);
    await this.terminateInOrder(record.replicas);
    // A tick that was spawning one of them when the intent changed ends it itself (terminating);
    // wait for it, then make sure nothing of the version runs.
    while (this.ticking) await sleep(10);
    await Promise.all(record.replicas.filter((r) => r.pid).map((r) => this.terminate(r)));
    for (const r of record.replicas) {
      this.terminating.delete(r); // resume may start it again
      r.restarts = 0;
      r.notBefore = 0;
      delete r.message;
    }
    await this.saveRegistry(record);
    return this.replicaCount(record);
  }

  async resume(runtimeId: string, versionName: string): Promise<number> {
    const record = this.versions.get(versionKey(runtimeId, versionName));
    if (!record || record.desired === 'stopped') {
      throw new WorkloadsNotReadyError(
        `version "${versionName}" of runtime "${runtimeId}" has no workloads here to resume`,
      );
    }
    if (record.desired === 'released') {
      record.desired = 'running';
      await this.saveRegistry(record);
      this.startTicking();
      await this.tick();
    }
    return this.replicaCount(record);
  }

  async stop(runtimeId: string, versionName: string): Promise<void> {
    const key = versionKey(runtimeId, versionName);
    const record = this.versions.get(key) ?? (await this.readRegistry(runtimeId, versionName));
    if (record) {
      // Persist the intent first: a deployer that dies mid-stop finishes it when it adopts.
      record.desired = 'stopped';
      this.versions.set(key, record);
      await this.saveRegistry(record);
      await this.terminateInOrder(record.replicas);
      record.replicas.forEach((r) =>
        Object.values(r.ports).forEach((p) => this.reservedPorts.delete(p)),
      );
      for (const r of record.replicas) await this.releaseNetwork(r);
      await this.pruneEnvironments();
    }
    this.versions.delete(key);
    await rm(this.versionDir(runtimeId, versionName), { recursive: true, force: true });
  }

  /** Per version: the previous CPU reading of each replica process, for `usage`'s rates. */
  private readonly cpuRates = new Map<string, CpuRates>();

  /** Each workload's replicas; a shared process's members each show it as their replica 0. */
  status(runtimeId: string, versionName: string): Promise<ReplicaStatus[]> {
    const record = this.versions.get(versionKey(runtimeId, versionName));
    return Promise.resolve(
      (record?.replicas ?? []).flatMap((r) => {
        const status = {
          state: r.pid
            ? 'RUNNING'
            : record?.desired !== 'running'
              ? 'STOPPED'
              : r.restarts > 0
                ? 'RESTARTING'
                : 'STARTING',
          restarts: r.restarts,
          pid: r.pid,
          message: r.message,
        } as const;
        return this.hostedBy(record!, r).map((workloadId) => ({
          workloadId,
          replica: r.replica,
          ...status,
        }));
      }),
    );
  }

  /** The workloads a replica runs: its own, or a shared process's members. */
  private hostedBy(record: VersionRecord, replica: ReplicaRecord): readonly string[] {
    return replica.workloadId === SHARED_WORKLOAD && record.shared
      ? record.shared.members
      : [replica.workloadId];
  }

  /** The workloads' replicas of a version (a shared process counts once per member). */
  private replicaCount(record: VersionRecord): number {
    return record.replicas.reduce((n, r) => n + this.hostedBy(record, r).length, 0);
  }

  /** A replica's workload for messages: `shared (entrypoint, greet.clean-name, …)`. */
  private nameOf(record: VersionRecord, replica: ReplicaRecord): string {
    const hosted = this.hostedBy(record, replica);
    return replica.workloadId === SHARED_WORKLOAD
      ? `${SHARED_WORKLOAD} (${hosted.join(', ')})`
      : replica.workloadId;
  }

  /** The record of a workload's replica (a shared process's for its members' replica 0). */
  private replicaOf(
    record: VersionRecord,
    workloadId: string,
    replica: number,
  ): ReplicaRecord | undefined {
    const hosted = replica === 0 && record.shared?.members.includes(workloadId);
    return record.replicas.find((r) =>
      hosted
        ? r.workloadId === SHARED_WORKLOAD
        : r.workloadId === workloadId && r.replica === replica,
    );
  }

  /** The installation's limits of one replica, as a plan states them. */
  private defaults(): ReplicaResources | undefined {
    const defaults = this.options.limits?.defaults;
    return defaults && { memoryBytes: defaults.memoryBytes, cpuMillis: defaults.cpus * 1_000 };
  }

  /**
   * Each replica's CPU and memory: its control group's counters (everything it forked), else its
   * process tree from /proc; CPU in cores since the previous call (the deployer samples). A shared
   * process's use is split evenly among its members (their sum is the process's).
   */
  async usage(runtimeId: string, versionName: string): Promise<VersionUsage> {
    const cgroups = this.options.limits?.cgroups;
    const now = Date.now();
    const live = new Set<string>();
    const vkey = versionKey(runtimeId, versionName);
    const rates = this.cpuRates.get(vkey) ?? new CpuRates();
    this.cpuRates.set(vkey, rates);
    let source = cgroups && cgroups.mode !== 'none' ? 'cgroup' : 'proc';
    const replicas: ReplicaUsage[] = [];
    const version = this.versions.get(vkey);
    // One reading per process (a shared one is every member's replica 0).
    const readings = new Map<ReplicaRecord, { sample?: UsageSample; cpuCores?: number }>();
    for (const status of await this.status(runtimeId, versionName)) {
      const record = version && this.replicaOf(version, status.workloadId, status.replica);
      let reading = record && readings.get(record);
      if (record && !reading) {
        const { pid, startTime } = record;
        const sample =
          pid === undefined
            ? undefined
            : await replicaUsage(
                pid,
                record.cgroup && cgroups ? { cgroups, name: record.cgroup } : undefined,
              );
        const key = `${pid}:${startTime}`;
        if (sample) live.add(key);
        reading = { sample, cpuCores: sample && rates.rate(key, sample.cpuSeconds, now) };
        readings.set(record, reading);
      }
      const sample = reading?.sample;
      if (sample && sample.source !== 'cgroup') source = sample.source;
      const share = version && record ? this.hostedBy(version, record).length : 1;
      replicas.push({
        workloadId: status.workloadId,
        replica: status.replica,
        state: status.state,
        restarts: status.restarts,
        ...(sample
          ? {
              cpuSeconds: sample.cpuSeconds / share,
              memoryBytes: Math.round(sample.memoryBytes / share),
              ...(reading?.cpuCores === undefined ? {} : { cpuCores: reading.cpuCores / share }),
            }
          : {}),
      });
    }
    rates.keep(live);
    return { available: true, source, replicas };
  }

  endpoints(runtimeId: string, versionName: string): Promise<VersionEndpoints | null> {
    const record = this.versions.get(versionKey(runtimeId, versionName));
    const count = record?.plan.workloads.find((w) => w.id === ENTRYPOINT_WORKLOAD)?.replicas ?? 0;
    const replicas: { http: string; grpc: string }[] = [];
    for (let replica = 0; record && replica < count; replica++) {
      const entry = this.replicaOf(record, ENTRYPOINT_WORKLOAD, replica);
      if (!entry?.ports.http || !entry.ports.grpc) continue;
      const host = this.addressOf(entry);
      replicas.push({ http: `${host}:${entry.ports.http}`, grpc: `${host}:${entry.ports.grpc}` });
    }
    if (replicas.length === 0) return Promise.resolve(null);
    return Promise.resolve({ ...replicas[0], ...(replicas.length > 1 ? { replicas } : {}) });
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  // ─── Supervision ─────────────────────────────────────────────────────────

  private startTicking(): void {
    this.timer ??= setInterval(() => void this.tick(), this.options.tickMs ?? 500);
    this.timer.unref();
  }

  /** Starts every desired replica that is not running (respecting its backoff). */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const record of this.versions.values()) {
        if (record.desired !== 'running') continue;
        let changed = false;
        for (const replica of record.replicas) {
          if (this.terminating.has(replica)) continue;
          if (
            replica.pid &&
            replica.startTime &&
            (await isSameProcess(replica.pid, replica.startTime))
          ) {
            if (replica.startedAt && Date.now() - replica.startedAt > STABLE_AFTER_MS)
              replica.restarts = 0;
            continue;
          }
          if (this.terminating.has(replica)) continue; // stopped while we looked
          if (replica.pid) {
            // It died: note why, back off, then restart.
            if (replica.sandbox) await this.killLeftovers(replica.sandbox);
            replica.message = await this.exitMessage(record.plan, replica);
            replica.restarts += 1;
            replica.notBefore =
              Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (replica.restarts - 1));
            this.logger.warn(
              `${replica.workloadId}#${replica.replica} of ${record.plan.runtimeId}/${record.plan.versionName} exited; restart ${replica.restarts}`,
            );
            delete replica.pid;
            delete replica.startTime;
            changed = true;
          }
          if (Date.now() >= replica.notBefore) {
            await this.spawnReplica(record, replica);
            changed = true;
            // Stopped or replaced while it was starting: it must not outlive its record.
            if (this.terminating.has(replica)) await this.terminate(replica);
          }
        }
        if (changed) await this.saveRegistry(record);
      }
    } catch (error) {
      this.logger.error(
        `supervision failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
    } finally {
      this.ticking = false;
    }
  }

  private async spawnReplica(record: VersionRecord, replica: ReplicaRecord): Promise<void> {
    const { plan } = record;
    const workload: LocalWorkload | undefined =
      replica.workloadId === SHARED_WORKLOAD
        ? record.shared
        : plan.workloads.find((w) => w.id === replica.workloadId);
    if (!workload) return;
    const dir = this.versionDir(plan.runtimeId, plan.versionName);
    const log = await open(this.logFile(plan, replica), 'a');
    const env: Record<string, string> = {
      ...(this.options.baseEnv ?? {}),
      ...workload.env,
      ...driverWorkloadEnv({
        KRT_BASE_PATH: join(dir, 'krt'),
        KRT_CONFIG_FILES_DIR: join(dir, 'config'),
        KRT_NATS_CREDS: join(dir, 'secrets', CREDENTIALS_FILE),
        KRT_HEALTH_PORT: String(replica.ports.health),
        KRT_GRPC_PORT: replica.ports.grpc ? String(replica.ports.grpc) : undefined,
        KRT_HTTP_PORT: replica.ports.http ? String(replica.ports.http) : undefined,
      }),
      [OWNER_ENV]: this.owner,
      KRE_WORKLOAD_REPLICA: String(replica.replica),
    };
    const sandbox = this.options.sandbox
      ? `${this.owner} ${randomBytes(8).toString('hex')}`
      : undefined;
    let launch: Launch;
    let network: ReplicaNetwork | undefined;
    try {
      launch = this.launchOf(workload, replica);
      network = sandbox ? await this.networkOf(replica) : undefined;
    } catch (error) {
      // Counted as a crash, so the start fails within seconds with the reason.
      await log.close();
      replica.message = (error as Error).message;
      replica.restarts += 1;
      replica.notBefore = Date.now() + BACKOFF_BASE_MS * 2 ** (replica.restarts - 1);
      return;
    }
    if (network) {
      // It reaches NATS, and is reached, at the addresses of its own namespace.
      env.KRT_NATS_SERVER = this.options.network!.natsUrl(network);
      env.KRT_LISTEN_HOST = network.workloadAddress;
    }
    const sandboxed = sandbox ? await this.sandboxed(plan, launch, env, sandbox) : undefined;
    const confined = sandboxed
      ? {
          ...sandboxed,
          ...(network ? this.options.network!.enter(network, sandboxed.file, sandboxed.args) : {}),
        }
      : { file: launch.host, args: launch.args, env, cwd: join(dir, 'krt') };
    const command = {
      ...confined,
      ...(await this.limited(plan, workload, replica, confined)),
    };
    try {
      const child = spawn(command.file, command.args, {
        cwd: command.cwd,
        env: command.env,
        detached: true, // its own process group: it outlives the deployer, and stops as a group
        stdio: ['ignore', log.fd, log.fd],
      });
      child.unref();
      delete replica.exit;
      // Known only for a process this deployer started (an adopted one is not its child).
      child.on('exit', (code, signal) => {
        if (replica.pid === child.pid)
          replica.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      });
      child.on('error', (error) =>
        this.logger.error(`spawn ${replica.workloadId} failed: ${error.message}`),
      );
      if (!child.pid) throw new Error(`could not start ${replica.workloadId}`);
      replica.pid = child.pid;
      replica.sandbox = sandbox;
      replica.startTime = (await processStartTime(child.pid)) ?? undefined;
      replica.startedAt = Date.now();
    } finally {
      await log.close();
    }
  }

  /** SIGTERM to the group, SIGKILL after the grace period; resolves when the process is gone. */
  /**
   * Ends a version's replicas, its entrypoint's first: on SIGTERM the entrypoint finishes the
   * requests in progress (up to the grace period), which needs the nodes still running; the
   * runners then finish the messages they hold. Ending them all at once cut off a request that
   * had reached the entrypoint just before a sleep or a stop.
   */
  private async terminateInOrder(replicas: readonly ReplicaRecord[]): Promise<void> {
    // A shared process ends its own entrypoint first, then its nodes (WorkloadGroup).
    const first = (r: ReplicaRecord) =>
      r.workloadId === ENTRYPOINT_WORKLOAD || r.workloadId === SHARED_WORKLOAD;
    await Promise.all(replicas.filter(first).map((r) => this.terminate(r)));
    await Promise.all(replicas.filter((r) => !first(r)).map((r) => this.terminate(r)));
  }

  private async terminate(replica: ReplicaRecord): Promise<void> {
    this.terminating.add(replica);
    const { pid, startTime } = replica;
    delete replica.pid;
    if (!pid || !startTime || !(await isSameProcess(pid, startTime)))
      return this.removeCgroup(replica);
    // bwrap forwards no signal, and SIGTERM to its group would end bwrap and the PID namespace's
    // init, whose death SIGKILLs the namespace: so a sandbox's programs get SIGTERM themselves,
    // by their host pids (bwrap's grandchildren and below), looked up again while it starts.
    const signalled = new Set<number>();
    const sigterm = async () => {
      if (!replica.sandbox) return void signalGroup(pid, 'SIGTERM');
      for (const inner of await descendants(pid, 2)) {
        if (!signalled.has(inner)) signalProcess(inner, 'SIGTERM');
        signalled.add(inner);
      }
    };
    await sigterm();
    const deadline = Date.now() + (this.options.stopGraceMs ?? 10_000);
    while (Date.now() < deadline) {
      if (!(await isSameProcess(pid, startTime))) return this.removeCgroup(replica);
      await sleep(50);
      if (replica.sandbox) await sigterm();
    }
    if (replica.sandbox) {
      // The namespace's init first: the kernel ends the whole namespace with it.
      for (const inner of await descendants(pid)) signalProcess(inner, 'SIGKILL');
    }
    signalGroup(pid, 'SIGKILL');
    while (await isSameProcess(pid, startTime)) await sleep(20);
    await this.removeCgroup(replica);
  }

  /**
   * Removes the replica's control group once the last of its processes is gone (a sandbox's
   * programs may outlive bwrap by a moment); a group still busy after a while is left empty-bound.
   */
  private async removeCgroup(replica: ReplicaRecord): Promise<void> {
    const cgroups = this.options.limits?.cgroups;
    if (!cgroups || !replica.cgroup) return;
    for (let attempt = 0; attempt < 40; attempt++) {
      if (await cgroups.remove(replica.cgroup)) return;
      await sleep(50);
    }
  }

  /**
   * The command in the replica's own control group (memory, CPU and process limits), joined
   * before the sandbox starts; unchanged where the machine has no writable cgroups.
   */
  private async limited(
    plan: DeploymentPlan,
    workload: LocalWorkload,
    replica: ReplicaRecord,
    command: { file: string; args: string[] },
  ): Promise<{ file: string; args: string[] }> {
    const limits = this.options.limits;
    if (!limits || limits.cgroups.mode === 'none') return command;
    replica.cgroup = cgroupName(this.options.prefix, plan, replica);
    // The replica's limits from the plan (the node's `resources`, within the runtime's quota),
    // else the installation's.
    const own = workload.resources;
    const procs = await limits.cgroups.create(
      replica.cgroup,
      own
        ? { ...limits.defaults, memoryBytes: own.memoryBytes, cpus: own.cpuMillis / 1_000 }
        : limits.defaults,
    );
    return joinArgs(procs, command.file, command.args);
  }

  /**
   * bwrap died but maybe not its sandbox (only bwrap was killed: the sandbox outlives it, as it
   * outlives the deployer): kill the PID namespace's init, found by this start's marker, which
   * ends the namespace, before a restart needs the same ports.
   */
  private async killLeftovers(sandbox: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const left = await processesWithEnv(SANDBOX_ENV, sandbox);
      if (left.length === 0 || Date.now() > deadline) return;
      left.forEach((p) => signalProcess(p, 'SIGKILL'));
      await sleep(20);
    }
  }

  // ─── Sandbox ─────────────────────────────────────────────────────────────

  /** Python environments no replica uses and unused for a while (python-env.ts `prune`). */
  private async pruneEnvironments(): Promise<void> {
    const envs = this.options.pythonEnvs;
    if (!envs) return;
    const inUse = new Set<string>();
    for (const record of this.versions.values())
      for (const r of record.replicas) if (r.python) inUse.add(r.python.venv);
    const pruned = await envs.prune(inUse).catch((error: Error) => {
      this.logger.warn(`pruning Python environments failed: ${error.message}`);
      return [];
    });
    if (pruned.length > 0)
      this.logger.log(`deleted ${pruned.length} Python environments unused for a while`);
  }

  /** The workload networks, where workloads are sandboxed as root (else none applies). */
  private network(): WorkloadNetworks | undefined {
    return this.options.sandbox && this.asRoot ? this.options.network : undefined;
  }

  /**
   * The replica's network namespace, made (or made again) before it starts.
   * @throws when none can be made (counted as a failed start by the caller)
   */
  private async networkOf(replica: ReplicaRecord): Promise<ReplicaNetwork | undefined> {
    const networks = this.network();
    if (!networks) return undefined;
    const network =
      replica.network === undefined
        ? await networks.claim(this.owner)
        : await networks.ensure(replica.network, this.owner);
    replica.network = network.index;
    return network;
  }

  private async releaseNetwork(replica: ReplicaRecord): Promise<void> {
    const networks = this.network();
    if (!networks || replica.network === undefined) return;
    await networks.release(networks.network(replica.network));
    delete replica.network;
  }

  /** Where the deployer and the gateway reach what the replica listens on. */
  private addressOf(replica: ReplicaRecord): string {
    const networks = this.network();
    return networks && replica.network !== undefined
      ? networks.network(replica.network).workloadAddress
      : '127.0.0.1';
  }

  private sandboxTools(): SandboxTools | undefined {
    if (!this.options.sandbox) return undefined;
    this.tools ??= sandboxTools(this.options.sandbox.hostPath);
    return this.tools;
  }

  /** The runtime's uid and gid when the deployer is root and sandboxes; else undefined. */
  private sandboxIds(runtimeId: string): { uid: number; gid: number } | undefined {
    const sandbox = this.options.sandbox;
    return sandbox && this.asRoot ? runtimeIds(runtimeId, sandbox) : undefined;
  }

  /**
   * What runs a workload: Node with one of our programs, or a Python node's environment with
   * the runner package (`-P`: the working folder, the KRT root, is not put first on sys.path,
   * so a tenant's `nats.py` cannot shadow the runner's imports).
   * @throws when a Python node has no environment (no `pythonEnvs`, or not applied)
   */
  private launchOf(workload: LocalWorkload, replica: ReplicaRecord): Launch {
    if (workload.program !== 'runner-python') {
      // A version's shared process is the runner program's `shared` command.
      const shared = workload.program === 'shared';
      const program = this.options.programs[shared ? 'runner' : workload.program];
      const node = this.options.nodeBinary;
      return {
        host: node,
        command: node,
        args: shared ? [program, 'shared'] : [program],
        readOnly: [
          { host: realProgramPath(node), path: node },
          ...(this.options.sandbox?.programFiles ?? []).map((p) => ({ host: p, path: p })),
          { host: program, path: program },
        ],
        nodeCache: true,
      };
    }
    const python = replica.python;
    if (!python) {
      throw new Error(
        `workload ${workload.id} is a Python node, but this deployer has no Python environment for it (Python nodes need KRE_PYTHON and the runner package)`,
      );
    }
    const args = ['-s', '-P', '-m', 'kre_runner'];
    return {
      host: join(python.venv, 'bin/python'),
      command: `${SANDBOX_VENV}/bin/python`,
      args,
      readOnly: [
        { host: python.venv, path: SANDBOX_VENV },
        // The interpreter and standard library the venv links to (under /usr it is there).
        ...(python.prefix.startsWith('/usr/')
          ? []
          : [{ host: python.prefix, path: python.prefix }]),
      ],
      nodeCache: false,
    };
  }

  /** The environment of each Python workload (by id), ensured from the fetched KRT. */
  private async pythonEnvsOf(
    plan: DeploymentPlan,
    krtDir: string,
  ): Promise<Map<string, { venv: string; prefix: string }>> {
    const found = new Map<string, { venv: string; prefix: string }>();
    const envs = this.options.pythonEnvs;
    if (!envs) return found;
    for (const workload of plan.workloads) {
      if (workload.program !== 'runner-python') continue;
      const requirements = workload.requirements
        ? readPythonRequirements(krtDir, workload.requirements)
        : { requirements: [], constraints: [] };
      const env = await envs.ensure(requirements, workload.requirements ?? 'the Python runner');
      found.set(workload.id, { venv: env.dir, prefix: env.python.prefix });
    }
    return found;
  }

  /**
   * bwrap's command line for a workload: it sees the system's read-only folders, its program
   * (Node and our built programs, or its Python environment), its version's KRT and config
   * files (read-only, at the paths its env names), its runtime's compile cache (writable, for
   * Node), a private /tmp and nothing else of the machine: no state folder, no other version or
   * runtime, no engine process.
   */
  private async sandboxed(
    plan: DeploymentPlan,
    launch: Launch,
    hostEnv: Record<string, string>,
    marker: string,
  ): Promise<{ file: string; args: string[]; env: Record<string, string>; cwd: string }> {
    // The deployer's HOME does not exist in the sandbox: the private /tmp is the workload's.
    const env: Record<string, string> = { ...hostEnv, HOME: '/tmp' };
    const sandbox = this.options.sandbox!;
    const ids = runtimeIds(plan.runtimeId, sandbox);
    const same = (path: string) => ({ host: path, path });
    const writable: { host: string; path: string }[] = [];
    if (!launch.nodeCache) delete env.NODE_COMPILE_CACHE;
    if (env.NODE_COMPILE_CACHE) {
      // Node's compile cache is written by the programs that use it: one per runtime, so no
      // tenant feeds another's (or the engine's) code cache.
      const cache = join(this.options.stateDir, 'sandbox', plan.runtimeId, 'node-compile-cache');
      await mkdir(cache, { recursive: true, mode: 0o700 });
      if (this.asRoot) await chown(cache, ids.uid, ids.gid);
      writable.push({ host: cache, path: env.NODE_COMPILE_CACHE });
    }
    const { file, args } = sandboxArgv(
      {
        command: launch.command,
        args: launch.args,
        cwd: env.KRT_BASE_PATH,
        env,
        readOnly: [
          ...launch.readOnly,
          same(env.KRT_BASE_PATH),
          same(env.KRT_CONFIG_FILES_DIR),
          same(dirname(env.KRT_NATS_CREDS)),
        ],
        writable,
        ...ids,
        outliveParent: true,
        inheritEnv: { unset: [SANDBOX_ENV], set: { [OWNER_ENV]: this.owner } },
      },
      this.sandboxTools()!,
      this.asRoot,
    );
    // bwrap gets the workload's env with SANDBOX_ENV for OWNER_ENV, and passes it on the other
    // way round: OWNER_ENV marks the program alone, as when it ran unsandboxed.
    const { [OWNER_ENV]: _owner, ...workloadEnv } = env;
    return { file, args, env: { ...workloadEnv, [SANDBOX_ENV]: marker }, cwd: '/' };
  }

  private async isReady(replica: ReplicaRecord): Promise<boolean> {
    if (!replica.pid || !replica.ports.health) return false;
    try {
      const response = await fetch(
        `http://${this.addressOf(replica)}:${replica.ports.health}/readyz`,
        {
          signal: AbortSignal.timeout(1_000),
        },
      );
      return response.ok;
    } catch {
      return false;
    }
  }

  private async exitMessage(plan: DeploymentPlan, replica: ReplicaRecord): Promise<string> {
    try {
      // Masked whole, then cut: a value across the cut is masked too.
      const log = configMaskerOf(plan).mask(await readFile(this.logFile(plan, replica), 'utf8'));
      return `${replica.exit ?? 'exited'}; last output: ${log.slice(-1_500).trim()}`;
    } catch {
      return replica.exit ?? 'exited';
    }
  }

  private async allocatePorts(
    names: readonly PortName[],
  ): Promise<Partial<Record<PortName, number>>> {
    const ports: Partial<Record<PortName, number>> = {};
    for (const name of names) {
      let port: number;
      do port = await freePort();
      while (this.reservedPorts.has(port));
      this.reservedPorts.add(port);
      ports[name] = port;
    }
    return ports;
  }

  // ─── State on disk ───────────────────────────────────────────────────────

  private versionDir(runtimeId: string, versionName: string): string {
    return join(this.options.stateDir, 'versions', runtimeId, versionName);
  }

  private logFile(plan: DeploymentPlan, replica: ReplicaRecord): string {
    return join(
      this.versionDir(plan.runtimeId, plan.versionName),
      'logs',
      `${replica.workloadId}-${replica.replica}.log`,
    );
  }

  private async writeConfigFiles(plan: DeploymentPlan, dir: string): Promise<void> {
    const configDir = join(dir, 'config');
    await rm(configDir, { recursive: true, force: true });
    await mkdir(configDir, { recursive: true, mode: 0o700 });
    const files = plan.workloads[0]?.configFiles ?? {};
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(configDir, name), content, { mode: 0o600 });
    }
  }

  /**
   * The version's NATS credentials (`KRT_NATS_CREDS`), readable by the workloads' user alone (a
   * plan without pins, which only tests make, runs with none and cannot connect).
   */
  private async writeCredentials(plan: DeploymentPlan, dir: string): Promise<void> {
    const secrets = join(dir, 'secrets');
    await mkdir(secrets, { recursive: true, mode: 0o700 });
    const file = join(secrets, CREDENTIALS_FILE);
    await rm(file, { force: true });
    if (plan.pins) await writeFile(file, plan.pins.credentials, { mode: 0o400 });
  }

  /** Written atomically (rename), readable by the engine's user only: it holds config values. */
  private async saveRegistry(record: VersionRecord): Promise<void> {
    const dir = this.versionDir(record.plan.runtimeId, record.plan.versionName);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'registry.json');
    // A name per write: supervision ticks and apply() may save the same version at once.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(record), { mode: 0o600 });
    await rename(tmp, file);
  }

  private async readRegistry(
    runtimeId: string,
    versionName: string,
  ): Promise<VersionRecord | undefined> {
    try {
      return JSON.parse(
        await readFile(join(this.versionDir(runtimeId, versionName), 'registry.json'), 'utf8'),
      ) as VersionRecord;
    } catch {
      return undefined;
    }
  }

  private async readAllRegistries(): Promise<{ key: string; record: VersionRecord }[]> {
    const root = join(this.options.stateDir, 'versions');
    const found: { key: string; record: VersionRecord }[] = [];
    for (const rt of await readdir(root).catch(() => [] as string[])) {
      for (const ver of await readdir(join(root, rt)).catch(() => [] as string[])) {
        const record = await this.readRegistry(rt, ver);
        if (record) found.push({ key: versionKey(rt, ver), record });
      }
    }
    return found;
  }
}

/** How a workload's program is started: on the host, and as the sandbox sees it. */
interface Launch {
  /** The program on the host (unsandboxed). */
  host: string;
  /** The program inside the sandbox, with what it needs shown read-only. */
  command: string;
  args: string[];
  readOnly: { host: string; path: string }[];
  /** Node's compile cache (NODE_COMPILE_CACHE) is mounted for it. */
  nodeCache: boolean;
}

/** Gives a folder and everything in it (never following a link) to `ids`. */
async function chownTree(root: string, ids: { uid: number; gid: number }): Promise<void> {
  await lchown(root, ids.uid, ids.gid);
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    await lchown(join(entry.parentPath, entry.name), ids.uid, ids.gid);
  }
}

function versionKey(runtimeId: string, versionName: string): string {
  return `${runtimeId}:${versionName}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
