import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OWNER_ENV, killWithGroup, processesWithEnv } from '@libs/orchestrator';
import { testEnv, waitForMail, type AppProcess, type CaughtMail } from '@libs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine } from './engine-harness.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The `kre` CLI against a stack of our own (admin-api, deployer, gateway as processes on random
 * ports, the suite's Redis, NATS, FerretDB and Mailpit): sign-in by mailed link and by token,
 * contexts, runtimes, an upload (valid and invalid), config, start/publish with --wait, a version
 * that ends in ERROR under --wait, invocation keys, calls over HTTP and gRPC, tokens; every
 * command's --json output and its exit code, failures included.
 */
describe('the kre CLI', () => {
  const env = testEnv();
  const admin = `admin@${env.KRE_PREFIX}.test`;
  const apps: AppProcess[] = [];
  let work: string;
  let configDir: string;
  let api: string;
  let gatewayHttp: string;
  let gatewayGrpc: string;

  /** Runs the built CLI with only the environment given (plus PATH and HOME), stdin closed. */
  const kre = (args: string[], extra: Record<string, string> = {}, input = ''): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/apps/cli/src/main.js', ...args], {
        cwd: process.cwd(),
        env: {
          PATH: process.env.PATH ?? '',
          HOME: work,
          KRE_CONFIG_DIR: configDir,
          KRE_API: api,
          ...extra,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  /** Runs it and parses stdout as JSON (the command must succeed). */
  const kreJson = async <T>(args: string[], extra: Record<string, string> = {}): Promise<T> => {
    const run = await kre([...args, '--json'], extra);
    if (run.code !== 0) throw new Error(`kre ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };
  /** The `--json` error on stderr. */
  const jsonError = (run: Run) =>
    (
      JSON.parse(run.stderr.trim().split('\n').at(-1)!) as {
        error: { code: string; message: string; exitCode: number; errors?: { path: string }[] };
      }
    ).error;

  const owned = () => processesWithEnv(OWNER_ENV, `${env.KRE_PREFIX}@${join(work, 'state')}`);

  /**
   * Starts the CLI and lets the test read its stderr as it comes (`kre login --wait` prints its
   * code there, then waits): `stderrMatch` resolves with the first match of `pattern`.
   */
  const kreLive = (args: string[]) => {
    const child = spawn(process.execPath, ['dist/apps/cli/src/main.js', ...args], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: work, KRE_CONFIG_DIR: configDir, KRE_API: api },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      waiters.forEach((w) => w());
    });
    const done = new Promise<Run>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        resolve({ code, stdout, stderr });
        waiters.forEach((w) => w());
      });
    });
    const stderrMatch = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stderr);
          if (match) resolve(match);
          else if (child.exitCode !== null)
            reject(new Error(`kre ${args.join(' ')} exited ${child.exitCode}: ${stderr}`));
        };
        waiters.push(check);
        check();
      });
    return { done, stderrMatch, stop: () => child.kill() };
  };

  /** The IDs of the mails to `to` so far (to tell the next one from them). */
  const mailIds = async (to: string): Promise<Set<string>> => {
    const search = await fetch(
      `${env.MAILPIT_URL}/api/v1/search?query=${encodeURIComponent(`to:"${to}"`)}&limit=100`,
    );
    const { messages } = (await search.json()) as { messages: { ID: string }[] };
    return new Set(messages.map((m) => m.ID));
  };
  /** The first mail to `to` that is not among `seen`, in full. */
  const newMail = async (to: string, seen: Set<string>): Promise<CaughtMail> => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const fresh = [...(await mailIds(to))].find((id) => !seen.has(id));
      if (fresh) {
        seen.add(fresh);
        return (await (
          await fetch(`${env.MAILPIT_URL}/api/v1/message/${fresh}`)
        ).json()) as CaughtMail;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no new mail to ${to} reached Mailpit within 10 s`);
  };
  const APPROVAL_LINK = /http\S*\/cli-login\?token=[A-Za-z0-9_-]{43}/;
  const CODE = /enter this code: ([A-Z]{4}-[A-Z]{4})/;
  /** The approval page's form, as a browser posts it. */
  const submitApproval = (fields: Record<string, string>) =>
    fetch(`${api}/cli-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-cli-e2e-'));
    configDir = join(work, 'config', 'kre');
    const engine = await startEngine({
      env,
      work,
      adminEmail: admin,
      // No Python here: a version with a Python node ends in ERROR at start (the --wait case).
      extra: {
        deployer: { KRE_PYTHON: join(work, 'no-python3') },
        // The sign-ins below mail the admin more links than the default 5 an hour.
        'admin-api': { THROTTLE_SIGNIN_PER_EMAIL: '20/1h' },
      },
    });
    apps.push(...engine.apps);
    ({ api, gatewayHttp, gatewayGrpc } = engine);
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    for (const pid of await owned()) await killWithGroup(pid);
    await rm(work, { recursive: true, force: true });
  });

  let token = '';

  it('refuses commands before sign-in (exit 4), bad usage (exit 2), and prints help with examples', async () => {
    const whoami = await kre(['whoami']);
    expect(whoami.code).toBe(4);
    expect(whoami.stderr).toMatch(/not signed in .*kre login/);
    expect(whoami.stdout).toBe('');
    expect(jsonError(await kre(['whoami', '--json']))).toMatchObject({
      code: 'UNAUTHENTICATED',
      exitCode: 4,
    });

    expect((await kre(['runtime', 'frobnicate'])).code).toBe(2);
    expect((await kre(['login'])).code).toBe(2);
    const noRuntime = await kre(['version', 'list']);
    expect(noRuntime.code).toBe(2);

    const help = await kre(['version', 'upload', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--json');

    const down = await kre(['whoami'], { KRE_API: 'http://127.0.0.1:9', KRE_TOKEN: 'kre_x' });
    expect(down.code).toBe(10);
    expect(down.stderr).toContain('cannot reach the KRE API at http://127.0.0.1:9');
  });

  it('signs in with a mailed link off a terminal, keeps the session 0600, and whoami shows it', async () => {
    const sent = await kre(['login', '--email', admin, '--json']);
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ sent: true, email: admin, context: 'default' });
    const mail = await waitForMail(env.MAILPIT_URL, admin);
    const link = /http\S*\/signin#[A-Za-z0-9_-]{43}/.exec(mail.Text)?.[0];
    expect(link).toBeDefined();

    const bad = await kre(['login', '--link', `${api}/signin#${'x'.repeat(43)}`]);
    expect(bad.code).toBe(4);

    expect(await kreJson(['login', '--link', link!])).toEqual({
      context: 'default',
      api,
      email: admin,
      auth: 'session',
    });
    const file = join(configDir, 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(configDir)).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(await readFile(file, 'utf8')) as {
      currentContext: string;
      contexts: Record<string, { credentials: { type: string } }>;
    };
    expect(saved.currentContext).toBe('default');
    expect(saved.contexts.default?.credentials.type).toBe('session');

    // The context remembers the API: KRE_API is no longer needed.
    expect(await kreJson(['whoami'], { KRE_API: '' })).toMatchObject({
      email: admin,
      platformRole: 'ADMIN',
      api,
      context: 'default',
      auth: 'session',
    });
  });

  it('mints an API token with the session; a token context cannot mint one (exit 5); a wrong token exits 4', async () => {
    const created = await kreJson<{ token: string; apiToken: { id: string; name: string } }>([
      'token',
      'create',
      'cli-e2e',
      '--expires-in-days',
      '1',
    ]);
    token = created.token;
    expect(token).toMatch(/^kre_/);
    const quiet = await kre(['token', 'create', 'quiet-one', '-q']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trim()).toMatch(/^kre_\S+$/);

    const tokens = await kreJson<{ id: string; name: string }[]>(['token', 'list']);
    expect(tokens.map((t) => t.name).sort()).toEqual(['cli-e2e', 'quiet-one']);
    const quietId = tokens.find((t) => t.name === 'quiet-one')!.id;
    expect(await kreJson(['token', 'revoke', quietId])).toMatchObject({ name: 'quiet-one' });
    const revoked = await kre(['whoami'], { KRE_TOKEN: quiet.stdout.trim() });
    expect(revoked.code).toBe(4);
    expect(revoked.stderr).toContain('kre login');

    // A second context signed in with the token (from KRE_TOKEN), then another from stdin.
    expect(
      await kreJson(['login', '--token', '--context', 'ci'], { KRE_TOKEN: token }),
    ).toMatchObject({ context: 'ci', auth: 'token', email: admin });
    const fromStdin = await kre(
      ['login', '--token', '--context', 'piped', '--json'],
      {},
      `${token}\n`,
    );
    expect(fromStdin.code).toBe(0);
    const contexts = await kreJson<{ name: string; current: boolean; auth: string }[]>([
      'context',
      'list',
    ]);
    expect(contexts).toEqual([
      expect.objectContaining({ name: 'default', current: false, auth: 'session' }),
      expect.objectContaining({ name: 'ci', current: false, auth: 'token' }),
      expect.objectContaining({ name: 'piped', current: true, auth: 'token' }),
    ]);

    const mint = await kre(['token', 'create', 'nope', '--json']);
    expect(mint.code).toBe(5);
    expect(jsonError(mint)).toMatchObject({ code: 'FORBIDDEN', reason: 'SESSION_REQUIRED' });
    expect((await kre(['token', 'create', 'nope'])).stderr).toMatch(
      /needs a signed-in session.*kre login --email/,
    );

    const wrong = await kre(['runtime', 'list'], { KRE_TOKEN: `kre_${'x'.repeat(40)}` });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/kre login/);

    expect((await kre(['context', 'use', 'nowhere'])).code).toBe(6);
    expect(await kreJson(['context', 'use', 'ci'])).toEqual({ currentContext: 'ci' });
    expect(await kreJson(['logout', '--context', 'piped'])).toEqual({
      context: 'piped',
      signedOut: true,
    });
    expect((await kre(['whoami', '--context', 'piped'])).code).toBe(4);
  });

  it('signs in approved in a browser: the page names the account, a wrong code counts, the right one signs the CLI in once', async () => {
    const seen = await mailIds(admin);
    const login = kreLive(['login', '--email', admin, '--wait', '--context', 'browser', '--json']);
    const code = (await login.stderrMatch(CODE))[1];
    const link = APPROVAL_LINK.exec((await newMail(admin, seen)).Text)?.[0];
    expect(link).toBeDefined();
    const token = new URL(link!).searchParams.get('token')!;

    const page = await fetch(link!);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('script-src');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain(`<strong id="account">${admin}</strong>`);
    expect(html).not.toContain('<script');
    expect(html).not.toContain(code); // the code comes from the terminal, never from the mail

    const wrongCode = code === 'BCDF-GHJK' ? 'ZXWV-TSRQ' : 'BCDF-GHJK';
    const wrong = await submitApproval({ token, code: wrongCode, action: 'approve' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('not the code the kre command shows (4 more tries)');

    // Typed as people type it: lower case, a space for the dash.
    const approved = await submitApproval({ token, code: code.toLowerCase().replace('-', ' ') });
    expect(approved.status).toBe(200);
    expect(await approved.text()).toMatch(/data-result="approved">Approved: .*signed in as/);

    const done = await login.done;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toEqual({
      context: 'browser',
      api,
      email: admin,
      auth: 'session',
    });
    expect(await kreJson(['whoami', '--context', 'browser'])).toMatchObject({
      email: admin,
      auth: 'session',
    });

    // Single use: the link and its page are spent, and the mailed link signs nobody in again.
    expect((await submitApproval({ token, code })).status).toBe(410);
    expect((await fetch(link!)).status).toBe(410);
    const replay = await kre(['login', '--link', link!, '--context', 'replay']);
    expect(replay.code).toBe(4);
    expect(await kreJson(['context', 'use', 'ci'])).toEqual({ currentContext: 'ci' });
  });

  it('on a terminal, kre login --email shows the code and takes the approval while its paste prompt waits', async () => {
    // util-linux `script` gives the CLI a terminal (stdin and stderr are TTYs), as a person has.
    const seen = await mailIds(admin);
    const command = [process.execPath, 'dist/apps/cli/src/main.js', 'login', '--email', admin]
      .concat(['--context', 'terminal'])
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: work, KRE_CONFIG_DIR: configDir, KRE_API: api },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    const shown = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        screen += c.toString();
        const code = CODE.exec(screen)?.[1];
        if (code && screen.includes('paste the link from the mail')) resolve(code);
      });
      child.on('close', () => reject(new Error(`kre login ended early: ${screen}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const code = await shown;
    const token = new URL(
      APPROVAL_LINK.exec((await newMail(admin, seen)).Text)![0],
    ).searchParams.get('token')!;
    expect((await submitApproval({ token, code })).status).toBe(200);
    expect(await exited).toBe(0);
    expect(screen).toContain(`signed in to ${api} as ${admin} (session; context "terminal")`);
    child.stdin.end();
    expect(await kreJson(['context', 'use', 'ci'])).toEqual({ currentContext: 'ci' });
  });

  it('browser approval: an unapproved request ends with its --timeout (exit 9), a denied one exits 5, and only the account itself may approve', async () => {
    const seen = await mailIds(admin);
    const late = kreLive([
      'login',
      '--email',
      admin,
      '--wait',
      '--timeout',
      '3s',
      '--context',
      'late',
    ]);
    await late.stderrMatch(CODE);
    const lateLink = APPROVAL_LINK.exec((await newMail(admin, seen)).Text)![0];
    const timedOut = await late.done;
    expect(timedOut.code).toBe(9);
    expect(timedOut.stderr).toContain('nobody approved the sign-in within 3s (--timeout)');
    // The request ended with the CLI's wait: its page says so, and approving it does nothing.
    expect((await fetch(lateLink)).status).toBe(410);
    const lateToken = new URL(lateLink).searchParams.get('token')!;
    expect((await submitApproval({ token: lateToken, code: 'BCDF-GHJK' })).status).toBe(410);

    const denied = kreLive(['login', '--email', admin, '--wait', '--context', 'denied']);
    await denied.stderrMatch(CODE);
    const deniedToken = new URL(
      APPROVAL_LINK.exec((await newMail(admin, seen)).Text)![0],
    ).searchParams.get('token')!;
    const deny = await submitApproval({ token: deniedToken, action: 'deny' });
    expect(deny.status).toBe(200);
    expect(await deny.text()).toContain('data-result="denied"');
    const refused = await denied.done;
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('denied in the browser');

    // The portal's way: a signed-in browser approves a code, but only for its own account.
    const saved = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as {
      contexts: Record<string, { credentials: { cookie: string } }>;
    };
    const session = saved.contexts.default.credentials.cookie;
    const approve = (userCode: string, auth: Record<string, string>) =>
      fetch(`${api}/api/v1/cli-login/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ userCode }),
      });
    const someoneElse = kreLive([
      'login',
      '--email',
      `someone-else@${env.KRE_PREFIX}.test`,
      '--wait',
      '--context',
      'someone-else',
    ]);
    const theirCode = (await someoneElse.stderrMatch(CODE))[1];
    const wrongApprover = await approve(theirCode, { cookie: session });
    expect(wrongApprover.status).toBe(403);
    expect(await wrongApprover.json()).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'WRONG_APPROVER',
    });
    const byToken = await approve(theirCode, { authorization: `Bearer ${token}` });
    expect(byToken.status).toBe(403);

    const mine = kreLive(['login', '--email', admin, '--wait', '--context', 'portal', '--json']);
    const myCode = (await mine.stderrMatch(CODE))[1];
    const ok = await approve(myCode, { cookie: session });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ approved: true, email: admin });
    expect((await mine.done).code).toBe(0);
    expect((await approve(myCode, { cookie: session })).status).toBe(400); // used up
    expect(await kreJson(['whoami', '--context', 'portal'])).toMatchObject({ email: admin });

    someoneElse.stop(); // nobody may approve it: it would wait for its full --timeout
    await someoneElse.done;
    expect(await kreJson(['context', 'use', 'ci'])).toEqual({ currentContext: 'ci' });
  });

  it('creates a runtime (--wait), lists it, and says "not found" (exit 6) for an unknown one', async () => {
    expect(await kreJson(['runtime', 'create', 'demo', '--name', 'Demo', '--wait'])).toMatchObject({
      id: 'demo',
      name: 'Demo',
      status: 'CREATED',
      requireInvocationKey: true,
      entrypointAddress: { http: `${gatewayHttp}/demo`, grpc: gatewayGrpc },
    });
    const runtimes = await kreJson<{ id: string }[]>(['runtime', 'list']);
    expect(runtimes.map((r) => r.id)).toEqual(['demo']);
    const table = await kre(['runtime', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATUS/);

    const unknown = await kre(['runtime', 'get', 'nope', '--json']);
    expect(unknown.code).toBe(6);
    expect(jsonError(unknown)).toMatchObject({ code: 'NOT_FOUND', exitCode: 6 });
    expect((await kre(['version', 'status', 'greeter-v1', '-r', 'nope'])).code).toBe(6);
    expect((await kre(['runtime', 'create', 'demo'])).code).toBe(7);
  });

  it('adds, lists, re-roles and removes runtime members by email', async () => {
    const bo = `bo@${env.KRE_PREFIX}.test`;
    const created = await fetch(`${api}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `mutation { createUser(input: {email: "${bo}", platformRole: USER}) { id } }`,
      }),
    });
    expect(created.ok).toBe(true);
    expect(
      await kreJson(['runtime', 'members', 'add', 'demo', bo, '--role', 'manager']),
    ).toMatchObject({
      email: bo,
      role: 'MANAGER',
    });
    expect(
      (await kre(['runtime', 'members', 'add', 'demo', `nobody@${env.KRE_PREFIX}.test`])).code,
    ).toBe(3);
    expect((await kre(['runtime', 'members', 'add', 'demo', bo, '--role', 'boss'])).code).toBe(2);
    expect(await kreJson(['runtime', 'members', 'role', 'demo', bo, 'viewer'])).toMatchObject({
      role: 'VIEWER',
    });
    const members = await kreJson<{ email: string; role: string }[]>([
      'runtime',
      'members',
      'list',
      'demo',
    ]);
    expect(members.map((m) => [m.email, m.role]).sort()).toEqual(
      [
        [admin, 'ADMIN'],
        [bo, 'VIEWER'],
      ].sort(),
    );
    expect(await kreJson(['runtime', 'members', 'remove', 'demo', bo])).toMatchObject({
      email: bo,
    });
    expect((await kre(['runtime', 'members', 'remove', 'demo', bo])).code).toBe(6);
  });

  it('lists every error of an invalid KRT with its path (exit 3) and uploads nothing', async () => {
    const broken = join(work, 'broken');
    await cp('examples/greeter', broken, { recursive: true });
    const manifest = join(broken, 'kre.yaml');
    await writeFile(
      manifest,
      (await readFile(manifest, 'utf8'))
        .replace('src: src/clean-name/handler.mjs', 'src: src/missing.mjs')
        .replace('version: greeter-v1', 'version: Not_Valid'),
    );
    const human = await kre(['version', 'upload', broken, '-r', 'demo']);
    expect(human.code).toBe(3);
    expect(human.stderr).toMatch(/invalid KRT/);
    expect(human.stderr).toMatch(/error\s+version/);
    expect(human.stderr).toMatch(
      /error\s+nodes\[0\]\.src \(line \d+, column \d+\): .*is not a file/,
    );
    const json = await kre(['version', 'upload', broken, '-r', 'demo', '--json']);
    expect(json.code).toBe(3);
    const error = jsonError(json);
    expect(error.code).toBe('KRT_INVALID');
    expect(error.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(['version', 'nodes[0].src']),
    );

    // A file the server refuses: its errors come back the same way.
    const junk = join(work, 'junk.krt');
    await writeFile(junk, 'not a tarball');
    const refused = await kre(['version', 'upload', junk, '-r', 'demo', '--json']);
    expect(refused.code).toBe(3);
    expect(jsonError(refused).code).toBe('KRT_INVALID');
    expect(await kreJson(['version', 'list', '-r', 'demo'])).toEqual([]);
  });

  it('uploads a folder, sets its config, starts and publishes it with --wait, and calls it over HTTP and gRPC', async () => {
    expect(
      await kreJson(['version', 'upload', 'examples/greeter', '-r', 'demo', '--wait']),
    ).toMatchObject({ name: 'greeter-v1', status: 'CREATED' });

    const config = await kreJson<{ completed: boolean; vars: { key: string; isSet: boolean }[] }>([
      'config',
      'get',
      'greeter-v1',
      '-r',
      'demo',
    ]);
    expect(config).toEqual({
      completed: false,
      vars: [{ key: 'GREETING', type: 'VARIABLE', isSet: false }],
    });
    const early = await kre(['version', 'start', 'greeter-v1', '-r', 'demo']);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toContain('GREETING');

    expect((await kre(['config', 'set', 'greeter-v1', 'NOPE=1', '-r', 'demo'])).code).toBe(3);
    expect((await kre(['config', 'set', 'greeter-v1', 'GREETING', '-r', 'demo'])).code).toBe(2);
    await writeFile(join(work, 'greeting.txt'), 'Howdy');
    expect(
      await kreJson([
        'config',
        'set',
        'greeter-v1',
        'GREETING=@' + join(work, 'greeting.txt'),
        '-r',
        'demo',
      ]),
    ).toMatchObject({ keys: ['GREETING'], completed: true });
    const value = await kre([
      'config',
      'get',
      'greeter-v1',
      'GREETING',
      '--show-values',
      '-r',
      'demo',
    ]);
    expect(value.stdout).toBe('Howdy\n');
    const hidden = await kre(['config', 'get', 'greeter-v1', '-r', 'demo']);
    expect(hidden.stdout).not.toContain('Howdy');
    // unset removes the value (not set, as after the upload), then it is set again.
    expect(await kreJson(['config', 'unset', 'greeter-v1', 'GREETING', '-r', 'demo'])).toEqual({
      version: 'greeter-v1',
      keys: ['GREETING'],
      status: 'CREATED',
      completed: false,
    });
    expect(await kreJson(['config', 'get', 'greeter-v1', '-r', 'demo', '--show-values'])).toEqual({
      completed: false,
      vars: [{ key: 'GREETING', type: 'VARIABLE', isSet: false, value: null }],
    });
    const unknownKey = await kre(['config', 'unset', 'greeter-v1', 'NOPE', '-r', 'demo', '--json']);
    expect(unknownKey.code).toBe(3);
    expect(jsonError(unknownKey).message).toContain('"NOPE" is not a config key of this version');
    await kreJson(['config', 'set', 'greeter-v1', 'GREETING=Howdy', '-r', 'demo']);

    const started = await kre([
      'version',
      'start',
      'greeter-v1',
      '-r',
      'demo',
      '-m',
      'go',
      '--wait',
      '--json',
    ]);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ name: 'greeter-v1', status: 'STARTED' });
    const again = await kre(['version', 'start', 'greeter-v1', '-r', 'demo']);
    expect(again.code).toBe(7);
    const running = await kre(['config', 'unset', 'greeter-v1', 'GREETING', '-r', 'demo']);
    expect(running.code).toBe(7);
    expect(running.stderr).toContain('is STARTED: values can be unset only while it is CREATED');

    // Human output follows the job's steps on stderr.
    const published = await kre(['version', 'publish', 'greeter-v1', '-r', 'demo', '--wait']);
    expect(published.code).toBe(0);
    expect(published.stdout).toContain('greeter-v1 of runtime demo: PUBLISHED');

    const status = await kreJson<{ status: string; entrypointAddress: { http: string } }>([
      'version',
      'status',
      'greeter-v1',
      '-r',
      'demo',
    ]);
    expect(status).toMatchObject({
      status: 'PUBLISHED',
      entrypointAddress: { http: `${gatewayHttp}/demo/versions/greeter-v1` },
    });

    const key = (await kre(['key', 'create', 'cli', '-r', 'demo', '-q'])).stdout.trim();
    expect(key).toMatch(/^kre_ik_/);
    // The address comes from the API (the runtime's entrypointAddress).
    const call = await kre([
      'call',
      'demo',
      'Greet',
      '-d',
      '{"name": "Ada"}',
      '--key',
      key,
      '--wait',
    ]);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.stdout)).toEqual({ greeting: 'Howdy, Ada!' });
    const byEnv = await kre(['call', 'demo', 'Greet', '-d', '{"name": "Bo"}', '--json'], {
      KRE_INVOCATION_KEY: key,
      KRE_GATEWAY: gatewayHttp,
    });
    expect(JSON.parse(byEnv.stdout)).toEqual({ greeting: 'Howdy, Bo!' });
    const grpc = await kre([
      'call',
      'demo',
      'Greet',
      '--grpc',
      '-I',
      'examples/greeter',
      '--proto',
      'public_input.proto',
      '-d',
      '{"name": "Grace"}',
      '--key',
      key,
    ]);
    expect(grpc.stderr).toBe('');
    expect(JSON.parse(grpc.stdout)).toEqual({ greeting: 'Howdy, Grace!' });

    const keyless = await kre(['call', 'demo', 'Greet', '-d', '{}', '--json']);
    expect(keyless.code).toBe(4);
    expect(jsonError(keyless).message).toMatch(/401.*--key or KRE_INVOCATION_KEY/);
    const grpcKeyless = await kre([
      'call',
      'demo',
      'Greet',
      '--grpc',
      '-I',
      'examples/greeter',
      '--proto',
      'public_input.proto',
    ]);
    expect(grpcKeyless.code).toBe(4);
    expect((await kre(['call', 'demo', 'Greet', '-d', '{nope'])).code).toBe(2);
    expect((await kre(['call', 'ghost', 'Greet', '--key', key])).code).toBe(6);

    // The version's log lines, as mongo-writer stored them (the deployer's steps at least).
    await expect
      .poll(
        async () =>
          (
            await kreJson<{ versionName: string; source: string }[]>([
              'logs',
              '-r',
              'demo',
              '--version-name',
              'greeter-v1',
              '--since',
              '10m',
            ])
          ).length,
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    const human = await kre(['logs', '-r', 'demo', '--since', '10m', '--limit', '3']);
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n')).toHaveLength(3);
    expect(human.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO |WARN |ERROR) greeter-v1\//m);
    expect((await kre(['logs', '-r', 'demo', '--level', 'LOUD'])).code).toBe(2);
    expect((await kre(['logs', '-r', 'demo', '--follow'])).code).toBe(2);

    // --follow: a live line per record of the version, as JSON lines, until interrupted.
    const follow = spawn(
      process.execPath,
      [
        'dist/apps/cli/src/main.js',
        'logs',
        '-r',
        'demo',
        '--version-name',
        'greeter-v1',
        '--follow',
        '--json',
      ],
      {
        env: { PATH: process.env.PATH ?? '', HOME: work, KRE_CONFIG_DIR: configDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let live = '';
    follow.stdout.on('data', (c: Buffer) => (live += c.toString()));
    const followed = new Promise<number | null>((resolve) => follow.on('close', resolve));
    await expect
      .poll(
        async () => {
          await kre(['call', 'demo', 'Greet', '-d', '{"name": "Live"}', '--key', key]);
          return live;
        },
        { timeout: 20_000, interval: 1_000 },
      )
      .toMatch(/"versionName":"greeter-v1"/);
    follow.kill('SIGINT');
    expect(await followed).toBe(0);
    expect(JSON.parse(live.split('\n')[0])).toMatchObject({ versionName: 'greeter-v1' });

    const keys = await kreJson<{ id: string; name: string; revokedAt: string | null }[]>([
      'key',
      'list',
      '-r',
      'demo',
    ]);
    expect(keys).toEqual([expect.objectContaining({ name: 'cli', revokedAt: null })]);
    expect(await kreJson(['key', 'revoke', keys[0].id, '-r', 'demo'])).toMatchObject({
      name: 'cli',
      revokedAt: expect.any(String) as unknown,
    });
  });

  it('--wait follows a start that ends in ERROR: exit 8 with the reason', async () => {
    const dir = join(work, 'greeter-py');
    await cp('examples/greeter', dir, { recursive: true });
    const manifest = join(dir, 'kre.yaml');
    await writeFile(
      manifest,
      (await readFile(manifest, 'utf8'))
        .replace('version: greeter-v1', 'version: greeter-py')
        .replace(
          /- name: Make Greeting\n {4}image: kre\/runner-node:latest\n {4}src: src\/make-greeting\/handler.mjs/,
          '- name: Make Greeting\n    image: konstellation/kre-py:v2.1.5\n    src: src/make-greeting/main.py',
        ),
    );
    await writeFile(
      join(dir, 'src/make-greeting/main.py'),
      'async def handler(ctx, data):\n    return data\n',
    );
    expect(await kreJson(['version', 'upload', dir, '-r', 'demo', '--wait'])).toMatchObject({
      status: 'CREATED',
    });
    await kreJson(['config', 'set', 'greeter-py', 'GREETING=Hi', '-r', 'demo']);
    const failed = await kre(['version', 'start', 'greeter-py', '-r', 'demo', '--wait', '--json']);
    expect(failed.code).toBe(8);
    const error = jsonError(failed);
    expect(error.code).toBe('VERSION_ERROR');
    expect(error.message).toMatch(/greeter-py is in ERROR: .*Python/);
  });

  it('unpublishes, stops and deletes with --wait; then the runtime goes too', async () => {
    expect(
      await kreJson(['version', 'unpublish', 'greeter-v1', '-r', 'demo', '--wait']),
    ).toMatchObject({
      status: 'STARTED',
    });
    expect(await kreJson(['version', 'stop', 'greeter-v1', '-r', 'demo', '--wait'])).toMatchObject({
      status: 'STOPPED',
    });
    expect(await owned()).toEqual([]);
    expect(await kreJson(['version', 'delete', 'greeter-v1', '-r', 'demo', '--wait'])).toEqual({
      runtimeId: 'demo',
      name: 'greeter-v1',
      status: 'DELETED',
    });
    const versions = await kreJson<{ name: string }[]>(['version', 'list', '-r', 'demo']);
    expect(versions.map((v) => v.name)).not.toContain('greeter-v1');
    expect((await kre(['version', 'status', 'greeter-v1', '-r', 'demo'])).code).toBe(6);

    // Refused while a version is not deleted? The ERROR one goes first, then the runtime.
    await kreJson(['version', 'delete', 'greeter-py', '-r', 'demo', '--wait']);
    expect(await kreJson(['runtime', 'delete', 'demo', '--wait'])).toEqual({
      id: 'demo',
      status: 'DELETED',
    });
    expect(await kreJson(['runtime', 'list'])).toEqual([]);
  });
});
