import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Container,
  NetworkingV1Api,
  type V1Deployment,
  type V1Secret,
} from '@kubernetes/client-node';
import { packKrt, validateKrtDirectory } from '@libs/krt';
import {
  connectNats,
  provisionObservabilityStream,
  provisionVersionResources,
  storeVersionKrt,
  mintUser,
  parseNatsAuthority,
  workloadPermissions,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { relayedTraceBatch } from '@libs/observability';
import {
  KubernetesDriver,
  PythonEnvs,
  SANDBOX_VENV,
  plan,
  type DeploymentPlan,
} from '@libs/orchestrator';
import { freePort, startKubernetes, testEnv, type KubeCluster } from '@libs/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testOptions } from '../../libs/orchestrator/src/kubernetes/options.fixture.js';

/**
 * So that no rendered manifest is "valid" yet unable to run: the pod specs the kubernetes driver
 * applied are read back from a real API server and run as host processes against the real NATS,
 * init container first, with their command, args and env, their volumes as temporary
 * directories at their mount paths under a per-pod root directory, ports remapped (pods would
 * each have their own network namespace). Afterwards nothing may have been written outside the
 * volumes (the root filesystem is read-only) nor into read-only mounts.
 * Then examples/greeter must answer through the entrypoint, and so must a variant whose middle
 * node is a Python node (kre-py) with a requirements.txt that its install-requirements init
 * container installs from PyPI: the image's venv (/opt/kre/venv) is one built here from
 * runners/python. The specs as stored keep the isolation (non-root, no token, read-only root, no
 * host paths, default-deny), and the NATS credentials they carry are refused everything but the
 * version's own work (a hostile client with them tries the attacks).
 */
describe('kubernetes pod specs of examples/greeter, run as processes', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'podrun';
  const repoRoot = resolve('.');
  const processes: ChildProcess[] = [];
  /** The output tail of each process, shown when a readiness wait fails. */
  const outputs = new Map<ChildProcess, () => string>();
  let cluster: KubeCluster;
  let nc: NatsConnection;
  let work: string;
  let p: DeploymentPlan;
  let entrypointHttp: number;
  /** The greeter's Deployments and credentials Secret as the API server keeps them. */
  let stored: { deployments: V1Deployment[]; secret: V1Secret };
  /** The pod being started's root directory, and every pod's. */
  let rootDir: string;
  const roots: string[] = [];
  const checks: (() => Promise<void>)[] = [];

  /** The runner-python image's venv, built on this machine (see beforeAll). */
  let pythonVenv = '';
  let driver: KubernetesDriver;
  let kc: KubeConfig;
  /** Maps a path inside the image to the repository (the Dockerfiles copy it to /app). */
  const hostPath = (path: string) =>
    path.startsWith('/app/')
      ? join(repoRoot, path.slice(5))
      : path.startsWith(`${SANDBOX_VENV}/`)
        ? join(pythonVenv, path.slice(SANDBOX_VENV.length))
        : path;
  /** Debian's CA bundle: this machine reaches PyPI through a proxy only it trusts. */
  const SYSTEM_CA = '/etc/ssl/certs/ca-certificates.crt';

  /** Every file under `dir` (relative paths) with its size and mtime: a cheap change detector. */
  async function snapshot(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return Promise.all(
      entries.map(async (e) => {
        const path = join(e.parentPath, e.name);
        const info = await stat(path);
        return `${relative(dir, path)}:${info.size}:${info.mtimeMs}`;
      }),
    ).then((list) => list.sort());
  }

  const asRoot = process.getuid?.() === 0;
  /** Who the current pod's processes run as (only switched when the test runs as root). */
  let user: { uid: number; gid: number } | undefined;

  /** Gives write permission back so the tree can be removed. */
  async function chmodTree(dir: string): Promise<void> {
    await chmod(dir, 0o755);
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }))
      if (entry.isDirectory()) await chmod(join(entry.parentPath, entry.name), 0o755);
  }

  /** Makes a directory tree unwritable by the pod's user. */
  async function denyWrites(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (asRoot) await chown(path, 0, 0);
      await chmod(path, entry.isDirectory() ? 0o555 : 0o444);
    }
    if (asRoot) await chown(dir, 0, 0);
    await chmod(dir, 0o555);
  }

  /** A path of the pod's filesystem, on this machine: under the pod's root directory. */
  const inPod = (path: string, root = rootDir) => join(root, path);

  async function runContainer(
    container: V1Container,
    secret: V1Secret,
    ports: Map<number, number>,
    untilExit: boolean,
  ): Promise<ChildProcess> {
    const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const mountPaths = (container.volumeMounts ?? []).map((m) => m.mountPath);
    for (const variable of container.env ?? []) {
      let value = variable.value;
      const ref = variable.valueFrom?.secretKeyRef;
      if (ref) {
        expect(ref.name).toBe(secret.metadata?.name);
        value = Buffer.from(secret.data![ref.key], 'base64').toString('utf8');
      }
      if (value === undefined) throw new Error(`env ${variable.name} has no value`);
      // Paths in volumes are rewritten into the pod's root; any other path would be the
      // image's, which these programs must not need.
      if (mountPaths.some((m) => value === m || value!.startsWith(`${m}/`))) value = inPod(value);
      if (/_PORT$/.test(variable.name) && ports.has(Number(value)))
        value = String(ports.get(Number(value)));
      childEnv[variable.name] = value;
    }
    if (container.name === 'install-requirements' && existsSync(SYSTEM_CA))
      childEnv.PIP_CERT = SYSTEM_CA;
    const [command, ...args] = [...container.command!, ...(container.args ?? [])].map(hostPath);
    const child = spawn(command === 'node' ? process.execPath : command, args, {
      cwd: container.workingDir ? inPod(container.workingDir) : rootDir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...user,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    processes.push(child);
    outputs.set(child, () => `${container.name}: ${output.slice(-2_000)}`);
    if (untilExit) {
      const code = await new Promise<number | null>((done) => child.on('exit', done));
      if (code !== 0)
        throw new Error(`${container.name} exited with ${code}: ${output.slice(-2_000)}`);
    }
    return child;
  }

  /**
   * Runs one replica of a Deployment's pod in its own root directory (volumes as directories
   * at their mount paths, nothing else); resolves when its readiness probe answers.
   */
  async function runPod(deployment: V1Deployment, secret: V1Secret): Promise<Map<number, number>> {
    const pod = deployment.spec!.template.spec!;
    rootDir = await mkdtemp(join(work, 'root-'));
    roots.push(rootDir);
    // The pod's root filesystem is read-only: as root, run the containers as the pod's user
    // (who cannot write here); otherwise take the write permission away.
    if (asRoot) {
      user = { uid: pod.securityContext!.runAsUser!, gid: pod.securityContext!.runAsGroup! };
      await chmod(rootDir, 0o755);
    } else await chmod(rootDir, 0o555);
    const mountOf = new Map<string, string>();
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      for (const m of c.volumeMounts ?? []) {
        // One directory per volume: every container must mount it at the same path.
        expect(mountOf.get(m.name) ?? m.mountPath).toBe(m.mountPath);
        mountOf.set(m.name, m.mountPath);
      }
    }
    for (const volume of pod.volumes ?? []) {
      const dir = inPod(mountOf.get(volume.name)!);
      await chmod(rootDir, 0o755);
      await mkdir(dir, { recursive: true });
      for (const item of volume.secret?.items ?? [])
        await writeFile(join(dir, item.path), Buffer.from(secret.data![item.key], 'base64'));
      // emptyDirs belong to the pod's group (fsGroup); secret volumes are read-only.
      if (volume.emptyDir && user) await chown(dir, user.uid, pod.securityContext!.fsGroup!);
      if (volume.secret) await chmod(dir, 0o555);
    }
    if (!asRoot) await chmod(rootDir, 0o555);
    const mountDirs = [...mountOf.values()];
    const ports = new Map<number, number>();
    for (const c of pod.containers)
      for (const port of c.ports ?? []) ports.set(port.containerPort, await freePort());
    for (const init of pod.initContainers ?? []) await runContainer(init, secret, ports, true);
    const [main] = pod.containers;
    const readOnly = (main.volumeMounts ?? []).filter((m) => m.readOnly).map((m) => m.mountPath);
    const root = rootDir;
    // What the main container mounts read-only, it cannot write.
    for (const m of readOnly) await denyWrites(inPod(m, root));
    const before = await Promise.all(readOnly.map((m) => snapshot(inPod(m, root))));
    checks.push(async () => {
      // Read-only mounts stayed as they were; nothing was written outside the volumes.
      expect(await Promise.all(readOnly.map((m) => snapshot(inPod(m, root))))).toEqual(before);
      const outside = (await snapshot(root))
        .map((entry) => `/${entry.split(':')[0]}`)
        .filter(
          (path) =>
            !mountDirs.some(
              (m) => path === m || path.startsWith(`${m}/`) || m.startsWith(`${path}/`),
            ),
        );
      expect(outside).toEqual([]);
    });
    const child = await runContainer(main, secret, ports, false);
    const probe = main.readinessProbe!.httpGet!;
    const healthPort = ports.get(main.ports!.find((x) => x.name === probe.port)!.containerPort)!;
    // Readiness, as the kubelet would probe it (expect.poll only runs inside tests).
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`exited with ${child.exitCode}: ${outputs.get(child)?.()}`);
      const status = (await fetch(`http://127.0.0.1:${healthPort}${probe.path}`).catch(() => null))
        ?.status;
      if (status === 200) break;
      if (Date.now() > deadline)
        throw new Error(`${probe.path} never answered 200: ${outputs.get(child)?.()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const live = main.livenessProbe!.httpGet!;
    expect((await fetch(`http://127.0.0.1:${healthPort}${live.path}`)).status).toBe(200);
    return ports;
  }

  /**
   * What the deployer's start does before apply: stores the KRT copy and pins its sha256 with
   * the version's own NATS identity (the pods run with it alone).
   */
  async function storeAndPin(version: DeploymentPlan, krtFile: string): Promise<DeploymentPlan> {
    const krtSha256 = await storeVersionKrt(nc, version.resources.krt, createReadStream(krtFile));
    const authority = parseNatsAuthority(await readFile(env.NATS_AUTHORITY_FILE, 'utf8'));
    const { creds } = await mintUser(
      authority,
      names.workloadUser(version.runtimeId, version.versionName),
      workloadPermissions(names, version.resources),
    );
    return { ...version, pins: { credentials: creds, krtSha256 } };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-podrun-'));
    await chmod(work, 0o755); // the pods' user must reach their roots
    cluster = await startKubernetes();
    kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    driver = await KubernetesDriver.create(
      kc,
      testOptions({
        prefix: env.KRE_PREFIX,
        workloadNatsUrl: env.NATS_URL,
        resourceQuota: {},
        // The Python node's install-requirements step installs from the real index.
        dependencies: { ...testOptions().dependencies, pypiIndexUrl: 'https://pypi.org/simple' },
      }),
    );
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'podrun-e2e' });

    // What the deployer's start job does before apply: streams, stores, the KRT copy.
    const { krt } = await validateKrtDirectory('examples/greeter', { prefix: env.KRE_PREFIX });
    const jsm = await jetstreamManager(nc);
    await provisionObservabilityStream(jsm, names, rt, { storage: 'memory' });
    p = plan({
      prefix: env.KRE_PREFIX,
      runtimeId: rt,
      krt,
      natsUrl: env.NATS_URL,
      config: { variables: { GREETING: 'Hola' }, files: {} },
      requestTimeoutSeconds: 30,
      // Traces exported: the pods relay their spans over NATS (#15).
      tracing: { scheduleDelayMs: 200 },
    });
    await provisionVersionResources(nc, p.resources);
    const krtFile = join(work, 'greeter.krt');
    await packKrt('examples/greeter', krtFile, { prefix: env.KRE_PREFIX });
    p = await storeAndPin(p, krtFile);
    await driver.apply(p);

    // What the API server stored (with its defaults), not what was sent.
    const namespace = names.namespace(rt);
    const selector = `kre.io/runtime=${rt},kre.io/version=${krt.version}`;
    const deployments = await kc
      .makeApiClient(AppsV1Api)
      .listNamespacedDeployment({ namespace, labelSelector: selector });
    const [secret] = (
      await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace, labelSelector: selector })
    ).items;
    const isEntrypoint = (d: V1Deployment) =>
      d.metadata?.annotations?.['kre.io/workload'] === 'entrypoint';
    stored = { deployments: deployments.items, secret };
    for (const d of deployments.items.filter((d) => !isEntrypoint(d))) await runPod(d, secret);
    const ports = await runPod(deployments.items.find(isEntrypoint)!, secret);
    entrypointHttp = ports.get(8080)!;
  }, 240_000);

  afterAll(async () => {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(
      processes
        .filter((c) => c.exitCode === null && c.signalCode === null)
        .map((c) => new Promise((done) => c.once('exit', done))),
    );
    await nc?.drain();
    await cluster?.stop();
    if (work) {
      for (const root of roots) await chmodTree(root);
      await rm(work, { recursive: true, force: true });
    }
  });

  it('answers a prediction through the entrypoint', async () => {
    const response = await fetch(`http://127.0.0.1:${entrypointHttp}/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '  Ada   Lovelace ' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ greeting: 'Hola, Ada Lovelace!' });
  });

  it("relays its pods' spans over NATS on the runtime's traces subject, one trace per call (their env as stored)", async () => {
    const bodies: Uint8Array[] = [];
    const sub = nc.subscribe(names.tracesSubject(rt), {
      callback: (_e, m) => void bodies.push(m.data),
    });
    await nc.flush();
    const traceId = '6bf92f3577b34da6a3ce929d0e0e4738';
    const response = await fetch(`http://127.0.0.1:${entrypointHttp}/Greet`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${traceId}-20f067aa0ba902b9-01`,
      },
      body: JSON.stringify({ name: 'Grace' }),
    });
    expect(response.status).toBe(200);
    // Checked as mongo-writer checks them (the pods cannot reach an OTLP endpoint themselves).
    const spanNames = () =>
      bodies
        .flatMap((body) => {
          const checked = relayedTraceBatch(body, rt);
          if (!checked.ok) throw new Error(checked.detail);
          return checked.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
        })
        .filter((span) => span.traceId === traceId)
        .map((span) => span.name)
        .sort();
    await expect
      .poll(spanNames, { timeout: 15_000 })
      .toEqual(['entrypoint Greet', 'node clean-name', 'node format-reply', 'node make-greeting']);
    sub.unsubscribe();
  });

  it('its pods, as the API server keeps them: non-root, no service-account token, read-only root, no host paths, default-deny network', async () => {
    expect(stored.deployments.length).toBe(4); // the entrypoint and three nodes
    for (const deployment of stored.deployments) {
      const pod = deployment.spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.hostNetwork ?? false).toBe(false);
      expect(pod.hostPID ?? false).toBe(false);
      expect((pod.volumes ?? []).filter((v) => v.hostPath)).toEqual([]);
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.securityContext?.privileged ?? false).toBe(false);
      }
    }
    const policies = await kc
      .makeApiClient(NetworkingV1Api)
      .listNamespacedNetworkPolicy({ namespace: names.namespace(rt) });
    const deny = policies.items.find((policy) => policy.metadata?.name === 'default-deny');
    expect(deny?.spec).toMatchObject({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(deny?.spec?.ingress ?? []).toEqual([]);
    expect(deny?.spec?.egress ?? []).toEqual([]);
  });

  it('its NATS credentials (the Secret as the API server keeps it) reach its own work only: the attacks are refused', async () => {
    const credentials = join(work, 'pod.creds');
    await writeFile(
      credentials,
      Buffer.from(stored.secret.data!['nats.creds'], 'base64').toString('utf8'),
      { mode: 0o600 },
    );
    // As its pods connect: their inbox prefix (the only replies its identity may receive).
    const inboxPrefix = stored.deployments[0].spec!.template.spec!.containers[0].env!.find(
      (variable) => variable.name === 'KRT_NATS_INBOX_PREFIX',
    )!.value!;
    const tenant = await connectNats({
      url: env.NATS_URL,
      credentials,
      inboxPrefix,
      name: 'podrun-hostile',
    });
    try {
      const refused = async (work: () => Promise<unknown>) => {
        try {
          await work();
          return 'done';
        } catch (error) {
          return /permission|authorization|violation/i.test(String(error))
            ? 'refused'
            : String(error);
        }
      };
      /** The server's asynchronous permission error about `subject`. */
      const violation = async (subject: string) => {
        for await (const status of tenant.status())
          if (status.type === 'error' && String(status.error).includes(subject)) return 'refused';
        return 'closed';
      };
      for (const subject of ['>', `${names.prefix}.svc.>`, `${names.prefix}.other.>`]) {
        const answer = violation(subject);
        tenant.subscribe(subject);
        expect(await answer).toBe('refused');
      }
      for (const subject of [
        `$KV.${names.gatewayBucket()}.${rt}`,
        `${names.prefix}.svc.admin-api.x`,
      ]) {
        const answer = violation(subject);
        tenant.publish(subject, 'evil');
        expect(await answer).toBe('refused');
      }
      const jsm = await jetstreamManager(tenant, { checkAPI: false });
      const stream = p.resources.workflows[0].stream;
      expect(await refused(() => jsm.streams.delete(stream))).toBe('refused');
      expect(await refused(() => jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] }))).toBe(
        'refused',
      );
      // Its own stream it may read (its consumers do): the same identity, not a locked-out one.
      expect(await refused(() => jsm.streams.info(stream))).toBe('done');
    } finally {
      await tenant.close();
    }
  });

  it('answers through a Python node whose requirements its init step installed', async () => {
    // The runner-python image's venv: the runner package, built as the local driver builds one
    // (a system Python, which the pods' uid can reach, when there is one).
    const envs = new PythonEnvs({
      cacheDir: join(work, 'python-envs'),
      python: existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3',
      runnerPackage: join(repoRoot, 'runners/python'),
      indexUrl: 'https://pypi.org/simple',
      caBundle: existsSync(SYSTEM_CA) ? SYSTEM_CA : undefined,
      hostPath: process.env.PATH ?? '/usr/bin:/bin',
      sandboxUser: { uid: 64_000, gid: 64_000 },
      timeoutMs: 180_000,
    });
    pythonVenv = (await envs.ensure({ requirements: [], constraints: [] }, 'the runner')).dir;

    // The greeter with its middle node in Python (KRE's v1 API), needing six and KRE's protobuf.
    const dir = join(work, 'greeter-py');
    await cp('examples/greeter', dir, { recursive: true });
    const manifest = (await readFile(join(dir, 'kre.yaml'), 'utf8'))
      .replace('version: greeter-v1', 'version: greeter-py-v1')
      .replace(
        /- name: Make Greeting\n {4}image: kre\/runner-node:latest\n {4}src: src\/make-greeting\/handler.mjs/,
        '- name: Make Greeting\n    image: konstellation/kre-py:v2.1.5\n    src: src/make-greeting-py/main.py',
      );
    expect(manifest).toContain('src/make-greeting-py/main.py');
    await writeFile(join(dir, 'kre.yaml'), manifest);
    await mkdir(join(dir, 'src/make-greeting-py'));
    await writeFile(
      join(dir, 'src/make-greeting-py/requirements.txt'),
      'six==1.16.0\nprotobuf==3.20.1  # as KRE-era KRTs pinned it\n',
    );
    await writeFile(
      join(dir, 'src/make-greeting-py/main.py'),
      [
        'import os',
        'import six  # installed by the init step',
        'from google.protobuf.struct_pb2 import Struct',
        '',
        'async def handler(ctx, data):',
        '    request = Struct()',
        '    data.Unpack(request)',
        '    greeting = os.environ.get("GREETING") or "Hello"',
        '    reply = Struct()',
        '    reply.update({"text": "%s, %s! (py%s)" % (greeting, request["name"], six.PY3 and 3)})',
        '    return reply',
        '',
      ].join('\n'),
    );
    const { krt } = await validateKrtDirectory(dir, { prefix: env.KRE_PREFIX });
    expect(krt.requirements).toEqual(['src/make-greeting-py/requirements.txt']);
    const pyPlan = plan({
      prefix: env.KRE_PREFIX,
      runtimeId: rt,
      krt,
      natsUrl: env.NATS_URL,
      config: { variables: { GREETING: 'Hola' }, files: {} },
      requestTimeoutSeconds: 30,
    });
    await provisionVersionResources(nc, pyPlan.resources);
    const krtFile = join(work, 'greeter-py.krt');
    await packKrt(dir, krtFile, { prefix: env.KRE_PREFIX });
    await driver.apply(await storeAndPin(pyPlan, krtFile));

    const namespace = names.namespace(rt);
    const selector = `kre.io/runtime=${rt},kre.io/version=${krt.version}`;
    const deployments = await kc
      .makeApiClient(AppsV1Api)
      .listNamespacedDeployment({ namespace, labelSelector: selector });
    const [secret] = (
      await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace, labelSelector: selector })
    ).items;
    const workload = (d: V1Deployment) => d.metadata?.annotations?.['kre.io/workload'];
    const python = deployments.items.find((d) => workload(d) === 'greet.make-greeting')!;
    expect(python.spec!.template.spec!.initContainers!.map((c) => c.name)).toEqual([
      'fetch-krt',
      'install-requirements',
    ]);
    for (const d of deployments.items.filter((d) => workload(d) !== 'entrypoint'))
      await runPod(d, secret);
    const ports = await runPod(
      deployments.items.find((d) => workload(d) === 'entrypoint')!,
      secret,
    );
    const response = await fetch(`http://127.0.0.1:${ports.get(8080)!}/Greet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '  Ada   Lovelace ' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ greeting: 'Hola, Ada Lovelace! (py3)' });
  }, 300_000);

  it('wrote nothing outside its volumes nor into read-only mounts', async () => {
    expect(checks).toHaveLength(roots.length);
    for (const check of checks) await check();
  });
});
