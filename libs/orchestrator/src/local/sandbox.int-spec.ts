import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realProgramPath, sandboxArgv, sandboxTools } from './sandbox.js';

const run = promisify(execFile);

/**
 * Hostile code in the real sandbox (bubblewrap as the engine runs it): each probe is an attack a
 * tenant would try on the engine, and each must fail.
 */
describe('the one-machine sandbox', () => {
  let work: string;
  let out: string;
  const secret = `engine-secret-${process.pid}`;
  const uid = 64_000;
  const asRoot = process.getuid?.() === 0;

  /** Runs `script` with Node in the sandbox; its JSON report of each probe. */
  async function attack(script: string): Promise<Record<string, unknown>> {
    const { file, args } = sandboxArgv(
      {
        command: '/opt/kre/bin/node',
        args: ['-e', script, String(process.pid), join(work, 'secret.txt')],
        cwd: '/work',
        env: { PATH: '/usr/bin:/bin', HOME: '/tmp', ONLY_THIS: 'given' },
        readOnly: [{ host: realProgramPath(process.execPath), path: '/opt/kre/bin/node' }],
        writable: [{ host: out, path: '/work' }],
        uid,
        gid: uid,
      },
      sandboxTools(process.env.PATH),
      asRoot,
    );
    // The engine's own environment holds a secret the sandbox must not see.
    await run(file, args, { env: { ...process.env, ENGINE_SECRET: secret }, timeout: 30_000 });
    return JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Record<string, unknown>;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-sandbox-'));
    out = join(work, 'out');
    await mkdir(out, { mode: 0o777 });
    await chmod(out, 0o777);
    await writeFile(join(work, 'secret.txt'), secret);
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows the command only its environment, its bound folders and its own processes', async () => {
    const report = await attack(`
      const fs = require('node:fs');
      const [enginePid, secretPath] = process.argv.slice(1);
      const probe = (f) => { try { return { ok: f() }; } catch (e) { return { error: e.code }; } };
      const report = {
        env: process.env,
        uid: process.getuid(),
        groups: process.getgroups(),
        engineEnviron: probe(() => fs.readFileSync('/proc/' + enginePid + '/environ', 'utf8')),
        pid1Environ: probe(() => fs.readFileSync('/proc/1/environ', 'utf8')),
        signalEngine: probe(() => process.kill(Number(enginePid), 0)),
        processes: fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).length,
        engineFile: probe(() => fs.readFileSync(secretPath, 'utf8')),
        engineTree: probe(() => fs.readdirSync(${JSON.stringify(process.cwd())})),
        writeSystem: probe(() => fs.writeFileSync('/usr/evil', 'x')),
        writeNode: probe(() => fs.writeFileSync('/opt/kre/bin/node', 'x')),
        root: fs.readdirSync('/').sort(),
      };
      fs.writeFileSync('/work/report.json', JSON.stringify(report));
    `);
    // Exactly what was given (bwrap adds PWD).
    expect(report.env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/tmp',
      ONLY_THIS: 'given',
      PWD: '/work',
    });
    expect(JSON.stringify(report)).not.toContain(secret);
    if (asRoot) {
      expect(report.uid).toBe(uid);
      expect(report.groups).toEqual([uid]);
    }
    // The engine's processes do not exist in the sandbox's PID namespace.
    expect(report.engineEnviron).toEqual({ error: 'ENOENT' });
    expect(report.signalEngine).toEqual({ error: 'ESRCH' });
    expect(report.pid1Environ).toHaveProperty('error');
    expect(report.processes).toBeLessThanOrEqual(3);
    // Nothing of the engine's files: the host's folders are not mounted at all.
    expect(report.engineFile).toEqual({ error: 'ENOENT' });
    expect(report.engineTree).toEqual({ error: 'ENOENT' });
    expect(report.writeSystem).toHaveProperty('error');
    expect(report.writeNode).toHaveProperty('error');
    expect(report.root).not.toContain('root');
    expect(report.root).not.toContain('home');
  });
});
