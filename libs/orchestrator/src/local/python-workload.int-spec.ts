import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { planVersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentPlan, WorkloadSpec } from '../deployment-plan.js';
import { WorkloadsNotReadyError } from '../driver.js';
import { LocalDriver } from './local.driver.js';
import { PythonEnvs, SANDBOX_VENV } from './python-env.js';

const run = promisify(execFile);
const SYSTEM_CA = '/etc/ssl/certs/ca-certificates.crt';

/**
 * A stand-in Python runner (the real one is tested by the conformance suite): serves /readyz on
 * KRT_HEALTH_PORT and reports where it runs, what it sees and what it may write.
 */
const FAKE_RUNNER = `
import http.server, json, os, sys, threading
def probe(f):
    try:
        f(); return "ok"
    except Exception as e:
        return type(e).__name__
report = {
    "cwd": os.getcwd(),
    "prefix": sys.prefix,
    "path0": sys.path[0],
    "uid": os.getuid(),
    "secret": os.environ.get("ENGINE_SECRET"),
    "node": os.environ.get("KRT_NODE_ID"),
    "writeVenv": probe(lambda: open(os.path.join(sys.prefix, "x"), "w")),
    "writeKrt": probe(lambda: open(os.path.join(os.environ["KRT_BASE_PATH"], "x"), "w")),
    "engineEnviron": probe(lambda: open("/proc/1/environ").read()),
}
print("REPORT " + json.dumps(report), flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/readyz" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["KRT_HEALTH_PORT"])), H).serve_forever()
`;

function pythonNode(id: string): WorkloadSpec {
  return {
    id,
    role: 'node',
    program: 'runner-python',
    image: 'konstellation/kre-py:v3.4.1',
    replicas: 1,
    gpu: false,
    ports: ['health'],
    env: { KRT_NODE_ID: id.split('.')[1] },
    configFiles: {},
    labels: {},
    k8sName: `v-${id}`,
    specHash: `${id}-1`,
  };
}

function planOf(versionName: string, workloads: WorkloadSpec[]): DeploymentPlan {
  return {
    prefix: 'kre',
    runtimeId: 'demo',
    versionName,
    workloads,
    resources: planVersionResources(new Names('kre'), 'demo', versionName, []),
    krtBucket: 'kre_demo_krt',
    routes: {},
  };
}

describe('LocalDriver: Python nodes', () => {
  let root: string;
  let envs: PythonEnvs;
  const drivers: LocalDriver[] = [];
  const makeDriver = (withPython: boolean) => {
    const driver = new LocalDriver({
      stateDir: join(root, 'state'),
      prefix: 'kre',
      nodeBinary: process.execPath,
      programs: { entrypoint: '/nonexistent', runner: '/nonexistent' },
      pythonEnvs: withPython ? envs : undefined,
      fetchKrt: async (_plan, dest) => {
        await mkdir(dest, { recursive: true });
        await writeFile(join(dest, 'kre.yaml'), 'version: v1\n');
        // A tenant's module named like the stdlib's, at the KRT root (the working folder).
        await writeFile(join(dest, 'json.py'), 'raise SystemExit("the KRT root shadowed json")\n');
      },
      stopGraceMs: 2_000,
      tickMs: 100,
      baseEnv: { PATH: '/usr/bin:/bin' },
      sandbox: {
        uid: 64_000,
        gid: 64_000,
        range: 1_000,
        programFiles: [],
        hostPath: process.env.PATH,
      },
    });
    drivers.push(driver);
    return driver;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-python-workload-'));
    process.env.ENGINE_SECRET = 'the engine only';
    const runner = join(root, 'runner');
    await mkdir(join(runner, 'kre_runner'), { recursive: true });
    await writeFile(
      join(runner, 'pyproject.toml'),
      '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "kre-runner"\nversion = "0.0.0"\n[tool.setuptools]\npackages = ["kre_runner"]\n',
    );
    await writeFile(join(runner, 'kre_runner/__init__.py'), '');
    await writeFile(join(runner, 'kre_runner/__main__.py'), FAKE_RUNNER);
    envs = new PythonEnvs({
      cacheDir: join(root, 'cache'),
      python: 'python3',
      runnerPackage: runner,
      indexUrl: 'https://pypi.org/simple',
      caBundle: existsSync(SYSTEM_CA) ? SYSTEM_CA : undefined,
      hostPath: process.env.PATH ?? '/usr/bin:/bin',
      sandboxUser: { uid: 64_000, gid: 64_000 },
      timeoutMs: 120_000,
    });
  });

  afterAll(async () => {
    for (const driver of drivers) {
      await driver.stop('demo', 'py').catch(() => undefined);
      await driver.close();
    }
    await run('chmod', ['-R', 'u+w', root]).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    delete process.env.ENGINE_SECRET;
  });

  it('runs <venv>/bin/python -m kre_runner sandboxed: venv read-only, cwd the KRT, no engine env', async () => {
    const driver = makeDriver(true);
    await driver.adopt();
    await driver.apply(planOf('py', [pythonNode('wf.etl')]));
    await driver.waitReady('demo', 'py', 30_000);
    const log = await readFile(join(root, 'state/versions/demo/py/logs/wf.etl-0.log'), 'utf8');
    const report = JSON.parse(/REPORT (.*)/.exec(log)![1]) as Record<string, unknown>;
    expect(report).toMatchObject({
      cwd: join(root, 'state/versions/demo/py/krt'),
      prefix: SANDBOX_VENV,
      node: 'etl',
      secret: null,
    });
    expect(report.writeVenv).toMatch(/PermissionError|OSError/);
    expect(report.writeKrt).toMatch(/PermissionError|OSError/);
    // PID 1 is the sandbox's own init, whose environ is not this process's to read.
    expect(report.engineEnviron).toMatch(/PermissionError|OSError|FileNotFoundError/);
    // -P: the KRT root (the working folder) is not first on sys.path (json.py did not load).
    expect(report.path0).not.toBe('');
    if (process.getuid?.() === 0) expect(report.uid).not.toBe(0);
    await driver.stop('demo', 'py');
  });

  it('fails the start within seconds when the deployer has no Python environment', async () => {
    const driver = makeDriver(false);
    await driver.adopt();
    await driver.apply(planOf('nopy', [pythonNode('wf.etl')]));
    const error = await driver.waitReady('demo', 'nopy', 30_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadsNotReadyError);
    expect((error as Error).message).toContain('workload wf.etl is a Python node');
    await driver.stop('demo', 'nopy');
  });
});
