import type { AppsV1Api } from '@kubernetes/client-node';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, toolBinary } from './services.js';

/** A private Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager. */
export interface KubeCluster {
  /** A kubeconfig file whose current context is the cluster's admin (group system:masters). */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** The kubeconfig's YAML text (for `KubeConfig.loadFromString`). */
  readonly kubeconfig: string;
  /** Start-up time, in total and per phase (pki, etcd, kube-apiserver, kube-controller-manager). */
  readonly startup: {
    readonly totalMs: number;
    readonly phasesMs: Readonly<Record<string, number>>;
  };
  /** Stops the three processes (SIGTERM, SIGKILL after a grace) and removes the work directory. */
  stop(): Promise<void>;
}

export interface StartKubernetesOptions {
  /**
   * The parent of the cluster's own work directory (certificates, etcd data, kubeconfig), which
   * stop() removes; default: the OS temp dir.
   */
  dir?: string;
}

const run = promisify(execFile);
const generateKeys = promisify(generateKeyPair);

const STOP_GRACE_MS = 5_000;
const READY_TIMEOUT_MS = 60_000;
/** The first address of --service-cluster-ip-range, which the `kubernetes` Service gets. */
const SERVICE_CIDR = '10.0.0.0/24';
const FIRST_SERVICE_IP = '10.0.0.1';

/**
 * Starts a real Kubernetes API server for integration tests, as controller-runtime's envtest does,
 * plus a controller manager that runs only the namespace and garbage-collector controllers, so a
 * deleted namespace really goes away and owner references really cascade. Nothing schedules or
 * runs pods: there is no scheduler and no kubelet. RBAC is enforced (the admin is system:masters),
 * PodSecurity admission is on. Binaries come from scripts/tools (built and cached by build.sh).
 */
export async function startKubernetes(options: StartKubernetesOptions = {}): Promise<KubeCluster> {
  const started = Date.now();
  const binaries = {
    etcd: toolBinary('etcd'),
    apiserver: toolBinary('kube-apiserver'),
    kcm: toolBinary('kube-controller-manager'),
  };
  const parent = options.dir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'kre-kube-'));
  const processes: Supervised[] = [];
  const watchdog = new Watchdog(dir);
  // If the test process ends without stop(), the watchdog kills the servers and removes the files;
  // on a normal exit, this removes them at once.
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', onExit);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // Reverse order: the controller manager and the API server need etcd to shut down cleanly.
      const [etcd, ...rest] = processes;
      await Promise.all(rest.map((p) => p.stop(STOP_GRACE_MS)));
      await etcd?.stop(STOP_GRACE_MS);
      watchdog.close();
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const pki = await generatePki(dir);
    const phasesMs: Record<string, number> = { pki: Date.now() - started };

    const [etcdPort, etcdPeerPort, apiPort, kcmPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    let mark = Date.now();
    const etcd = supervise(
      'etcd',
      binaries.etcd,
      [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=default=${etcdPeerUrl}`,
        '--unsafe-no-fsync', // a throw-away cluster: no need to survive a power cut
        '--log-level=warn',
      ],
      dir,
      watchdog,
    );
    processes.push(etcd);
    await waitReady(etcd, `${etcdUrl}/health`, undefined, (body) =>
      body.includes('"health":"true"'),
    );
    phasesMs['etcd'] = Date.now() - mark;

    const server = `https://127.0.0.1:${apiPort}`;
    mark = Date.now();
    const apiserver = supervise(
      'kube-apiserver',
      binaries.apiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        // Else the host's default interface (and a machine without a default route has none).
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, 'apiserver')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${pki.serviceAccountPublic}`,
        `--service-account-signing-key-file=${pki.serviceAccountPrivate}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        // No token controller runs; PodSecurity (on by default) stays.
        '--disable-admission-plugins=ServiceAccount',
        // The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints may not hold
        // (and no pod here would use them).
        '--endpoint-reconciler-type=none',
        '--profiling=false',
      ],
      dir,
      watchdog,
    );
    processes.push(apiserver);
    const adminTls = { ca: pki.ca, cert: pki.adminCert, key: pki.adminKey };
    await waitReady(apiserver, `${server}/readyz`, adminTls, (body) => body === 'ok');
    phasesMs['kube-apiserver'] = Date.now() - mark;

    const kubeconfig = kubeconfigYaml(server, pki.ca, pki.adminCert, pki.adminKey);
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

    mark = Date.now();
    const kcm = supervise(
      'kube-controller-manager',
      binaries.kcm,
      [
        `--kubeconfig=${kubeconfigPath}`,
        '--controllers=namespace-controller,garbage-collector-controller',
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(dir, 'kcm')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        '--profiling=false',
      ],
      dir,
      watchdog,
    );
    processes.push(kcm);
    // Each controller adds its health check once started: until then /healthz does not list it.
    // (/healthz/<controller> would need authorization; /healthz is always allowed.)
    await waitReady(
      kcm,
      `https://127.0.0.1:${kcmPort}/healthz?verbose`,
      { ca: pki.ca },
      (body) =>
        body.includes('[+]namespace-controller ok') &&
        body.includes('[+]garbage-collector-controller ok'),
    );
    phasesMs['kube-controller-manager'] = Date.now() - mark;
    const startup = { totalMs: Date.now() - started, phasesMs };
    return { kubeconfigPath, server, kubeconfig, startup, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface Pki {
  ca: string;
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountPublic: string;
  serviceAccountPrivate: string;
}

/** A CA, the API server's serving cert, an admin client cert (EC P-256), a service-account RSA key. */
async function generatePki(dir: string): Promise<Pki> {
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  const file = (name: string) => join(pki, name);
  const cert = (name: string, subject: string, extensions: string[], signedByCa = true) =>
    run('openssl', [
      ...['req', '-x509', '-new', '-nodes', '-days', '7', '-subj', subject],
      ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
      ...['-keyout', file(`${name}.key`), '-out', file(`${name}.crt`)],
      ...(signedByCa ? ['-CA', file('ca.crt'), '-CAkey', file('ca.key')] : []),
      ...extensions.flatMap((extension) => ['-addext', extension]),
    ]);
  const leaf = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];
  const serviceAccount = generateKeys('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  try {
    await cert(
      'ca',
      '/CN=kre-test-ca',
      [
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      ],
      false,
    );
    await Promise.all([
      cert('apiserver', '/CN=kube-apiserver', [
        ...leaf,
        'extendedKeyUsage=serverAuth',
        `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:${FIRST_SERVICE_IP}`,
      ]),
      cert('admin', '/O=system:masters/CN=kre-test-admin', [
        ...leaf,
        'extendedKeyUsage=clientAuth',
      ]),
    ]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `openssl failed to make the test cluster's certificates: ${String(error)}\n${stderr}`,
      { cause: error },
    );
  }
  const { publicKey, privateKey } = await serviceAccount;
  writeFileSync(file('sa.pub'), publicKey);
  writeFileSync(file('sa.key'), privateKey, { mode: 0o600 });
  const read = (name: string) => readFileSync(file(name), 'utf8');
  return {
    ca: read('ca.crt'),
    caCert: file('ca.crt'),
    servingCert: file('apiserver.crt'),
    servingKey: file('apiserver.key'),
    adminCert: read('admin.crt'),
    adminKey: read('admin.key'),
    serviceAccountPublic: file('sa.pub'),
    serviceAccountPrivate: file('sa.key'),
  };
}

function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kre-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(ca)}`,
    'users:',
    '- name: kre-test-admin',
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    'contexts:',
    '- name: kre-test',
    '  context:',
    '    cluster: kre-test',
    '    user: kre-test-admin',
    'current-context: kre-test',
    '',
  ].join('\n');
}

interface Supervised {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines the process printed (stdout and stderr). */
  output(): string;
  exited(): boolean;
  stop(graceMs: number): Promise<void>;
}

function supervise(
  name: string,
  command: string,
  args: string[],
  cwd: string,
  watchdog: Watchdog,
): Supervised {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`\n${name}: ${String(error)}\n`)));
  const exit = new Promise<void>((done) => child.once('close', () => done()));
  if (child.pid !== undefined) {
    const pid = child.pid;
    watchdog.watch(pid);
    child.once('exit', () => watchdog.forget(pid));
  }
  const exited = () =>
    child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
  return {
    name,
    child,
    output: () => log,
    exited,
    stop: async (graceMs) => {
      if (exited()) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * A `sh` that, once its stdin closes, SIGKILLs the pids it was told about and removes the work
 * directory. Its stdin closes when the test process ends in any way (even SIGKILL), so no etcd or
 * API server outlives a crashed run.
 */
class Watchdog {
  private readonly sh: ChildProcess;

  constructor(dir: string) {
    const script = [
      'pids=" "',
      'while read -r line; do',
      '  case "$line" in',
      '    -*) pids=$(printf "%s" "$pids" | sed "s/ ${line#-} / /") ;;',
      '    *) pids="$pids$line " ;;',
      '  esac',
      'done',
      'if [ -n "${pids# }" ]; then',
      '  kill -9 $pids 2>/dev/null',
      '  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pids 2>/dev/null || break; sleep 0.1; done',
      'fi',
      'rm -rf "$1"',
    ].join('\n');
    this.sh = spawn('sh', ['-c', script, 'kre-kube-watchdog', dir], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true, // a Ctrl-C to the test's process group must not kill it before it acts
    });
    this.sh.on('error', () => undefined);
    this.sh.stdin?.on('error', () => undefined);
    this.sh.unref();
    (this.sh.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }

  watch(pid: number): void {
    this.sh.stdin?.write(`${pid}\n`);
  }

  forget(pid: number): void {
    this.sh.stdin?.write(`-${pid}\n`);
  }

  /** Every watched process has exited: end the watchdog without it killing anything. */
  close(): void {
    this.sh.kill('SIGKILL');
  }
}

interface TlsOptions {
  ca: string;
  cert?: string;
  key?: string;
}

/** Polls `url` until `ok(body)` on a 200, failing early (with the process's output) if it exits. */
async function waitReady(
  proc: Supervised,
  url: string,
  tls: TlsOptions | undefined,
  ok: (body: string) => boolean,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exited()) {
      throw new Error(
        `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before ${url} was ready:\n${proc.output()}`,
      );
    }
    try {
      const { status, body } = await get(url, tls);
      if (status === 200 && ok(body.trim())) return;
      last = `${status} ${body.slice(0, 2_000)}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${proc.name}: ${url} was not ready within ${READY_TIMEOUT_MS} ms (last: ${last}):\n${proc.output()}`,
  );
}

async function get(url: string, tls?: TlsOptions): Promise<{ status: number; body: string }> {
  if (!tls) {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: response.status, body: await response.text() };
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * What the ReplicaSet controller and kubelets would report once every replica of the matching
 * Deployments is available (none runs here: readiness is simulated, as envtest users do).
 */
export async function markDeploymentsAvailable(
  apps: AppsV1Api,
  namespace: string,
  labelSelector?: string,
): Promise<void> {
  const list = await apps.listNamespacedDeployment({ namespace, labelSelector });
  for (const d of list.items) {
    const replicas = d.spec?.replicas ?? 1;
    if (
      d.status?.availableReplicas === replicas &&
      d.status.observedGeneration === d.metadata?.generation
    )
      continue;
    await apps.replaceNamespacedDeploymentStatus({
      name: d.metadata!.name!,
      namespace,
      body: {
        ...d,
        status: {
          observedGeneration: d.metadata?.generation,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
        },
      },
    });
  }
}
