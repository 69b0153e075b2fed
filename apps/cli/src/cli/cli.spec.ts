import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createProgram } from '../program.js';
import { bashCompletion, commandTree } from '../commands/completion.command.js';
import { linkToken } from '../commands/auth.command.js';
import { parseAssignments, parseEnvFile } from '../commands/config.command.js';
import { readCliEnv, userConfigDir } from './cli.env.js';
import { ConfigStore, checkContextName } from './config-store.js';
import { CliError, EXIT, exitCodeOf } from './exit-codes.js';
import { progressBar, table, type Io } from './io.js';
import { parseDuration, poll } from './wait.js';

describe(ConfigStore.name, () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kre-cli-config-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('starts empty, then keeps contexts in config.json with mode 0600 in a 0700 folder', async () => {
    const sut = new ConfigStore(join(dir, 'kre'));
    expect(await sut.load()).toEqual({ contexts: {} });
    await sut.update((config) => {
      config.contexts.prod = {
        api: 'https://kre.example.com',
        credentials: { type: 'token', token: 'kre_secret' },
      };
      config.currentContext = 'prod';
    });
    expect((await stat(sut.file)).mode & 0o777).toBe(0o600);
    expect((await stat(sut.dir)).mode & 0o777).toBe(0o700);
    expect(await new ConfigStore(join(dir, 'kre')).load()).toEqual({
      currentContext: 'prod',
      contexts: {
        prod: {
          api: 'https://kre.example.com',
          credentials: { type: 'token', token: 'kre_secret' },
        },
      },
    });
  });

  it('narrows a file that was world-readable back to 0600 when it writes', async () => {
    const sut = new ConfigStore(dir);
    await writeFile(sut.file, '{"contexts": {}}', { mode: 0o644 });
    await sut.save({ contexts: {} });
    expect((await stat(sut.file)).mode & 0o777).toBe(0o600);
  });

  it('says which file to fix when it is not JSON', async () => {
    const sut = new ConfigStore(dir);
    await writeFile(sut.file, '{oops');
    await expect(sut.load()).rejects.toThrow(`${sut.file} is not valid JSON`);
  });

  it('refuses context names a shell or a file would trip on', () => {
    expect(checkContextName('staging-eu.1')).toBe('staging-eu.1');
    for (const bad of ['', '../x', 'a b', '-x']) {
      expect(() => checkContextName(bad)).toThrow(CliError);
    }
  });
});

describe('the environment', () => {
  it('puts credentials under XDG_CONFIG_HOME, else ~/.config, else %APPDATA% on Windows; KRE_CONFIG_DIR wins', () => {
    expect(userConfigDir({ XDG_CONFIG_HOME: '/x' }, 'linux')).toBe('/x/kre');
    expect(userConfigDir({ HOME: '/home/ada' }, 'linux')).toBe('/home/ada/.config/kre');
    expect(userConfigDir({ APPDATA: 'C:\\Users\\ada\\AppData' }, 'win32')).toContain('kre');
    expect(readCliEnv({ KRE_CONFIG_DIR: '/etc/kre', XDG_CONFIG_HOME: '/x' }).configDir).toBe(
      '/etc/kre',
    );
  });

  it('ignores empty variables', () => {
    expect(readCliEnv({ KRE_TOKEN: '', KRE_API: '  ', HOME: '/h' })).toMatchObject({
      token: undefined,
      api: undefined,
    });
  });
});

describe('exit codes', () => {
  it('maps the server codes onto the documented table', () => {
    expect(exitCodeOf('KRT_INVALID')).toBe(EXIT.invalid);
    expect(exitCodeOf('BAD_USER_INPUT')).toBe(3);
    expect(exitCodeOf('UNAUTHENTICATED')).toBe(4);
    expect(exitCodeOf('FORBIDDEN')).toBe(5);
    expect(exitCodeOf('NOT_FOUND')).toBe(6);
    expect(exitCodeOf('INVALID_TRANSITION')).toBe(7);
    expect(exitCodeOf('CONFLICT')).toBe(7);
    expect(exitCodeOf('INTERNAL_SERVER_ERROR')).toBe(1);
    expect(exitCodeOf(undefined)).toBe(1);
  });

  it('never renumbers: the table is part of the interface', () => {
    expect(EXIT).toEqual({
      ok: 0,
      failed: 1,
      usage: 2,
      invalid: 3,
      unauthenticated: 4,
      forbidden: 5,
      notFound: 6,
      conflict: 7,
      error: 8,
      timeout: 9,
      unreachable: 10,
    });
  });
});

describe('argument parsing', () => {
  it('takes the token out of a pasted sign-in link, or the token alone', () => {
    const token = 'a'.repeat(43);
    expect(linkToken(`https://kre.example.com/signin#${token}`)).toBe(token);
    expect(linkToken(`  http://127.0.0.1:8080/signin#${token}\n`)).toBe(token);
    expect(linkToken(token)).toBe(token);
    expect(() => linkToken('https://kre.example.com/')).toThrow('paste the whole link');
  });

  it('reads KEY=value, KEY=@file and KEY=@- (stdin); refuses a pair without =', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kre-cli-args-'));
    try {
      await writeFile(join(dir, 'model.json'), '{"a": 1}');
      expect(
        await parseAssignments(
          ['A=1', 'B=x=y', `C=@${join(dir, 'model.json')}`, 'D=@-', 'E='],
          () => Promise.resolve('from stdin'),
        ),
      ).toEqual([
        { key: 'A', value: '1' },
        { key: 'B', value: 'x=y' },
        { key: 'C', value: '{"a": 1}' },
        { key: 'D', value: 'from stdin' },
        { key: 'E', value: '' },
      ]);
      await expect(parseAssignments(['NOPE'], () => Promise.resolve(''))).rejects.toMatchObject({
        exitCode: EXIT.usage,
      });
      await expect(
        parseAssignments([`F=@${join(dir, 'missing')}`], () => Promise.resolve('')),
      ).rejects.toThrow(/F: cannot read .*missing \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a .env file: comments, export, quotes', () => {
    expect(parseEnvFile('# c\n\nexport A=1\nB="two words"\nC=\'x\'\nD=a=b\n')).toEqual([
      { key: 'A', value: '1' },
      { key: 'B', value: 'two words' },
      { key: 'C', value: 'x' },
      { key: 'D', value: 'a=b' },
    ]);
    expect(() => parseEnvFile('A=1\nnot a pair\n')).toThrow('line 2');
  });

  it('reads durations in seconds or minutes', () => {
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(() => parseDuration('soon')).toThrow(CliError);
  });

  it('poll gives up with the timeout exit code, naming what it waited for', async () => {
    await expect(poll('the moon', 0, () => Promise.resolve(undefined))).rejects.toMatchObject({
      exitCode: EXIT.timeout,
      message: expect.stringContaining('the moon') as unknown,
    });
    expect(await poll('x', 0, () => Promise.resolve(42))).toBe(42);
  });
});

describe('the program', () => {
  let dir: string;
  let lines: string[];
  let errors: string[];
  const io: Io = {
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    interactive: false,
    stdinIsTty: true,
    colour: false,
    prompt: () => Promise.reject(new Error('no prompt in tests')),
    readStdin: () => Promise.resolve(''),
  };
  const run = async (args: string[], env: Record<string, string> = {}) => {
    process.exitCode = undefined;
    await createProgram(io, readCliEnv({ KRE_CONFIG_DIR: dir, ...env })).parseAsync([
      'node',
      'kre',
      ...args,
    ]);
    const code = process.exitCode ?? 0;
    process.exitCode = undefined;
    return code;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kre-cli-program-'));
    lines = [];
    errors = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('asks for the runtime before anything else (usage, exit 2)', async () => {
    expect(await run(['version', 'list'])).toBe(EXIT.usage);
    expect(errors).toEqual([
      'kre: which runtime? Pass -r, --runtime <id> (kre runtime list shows them)',
    ]);
  });

  it('says "not signed in" with the fix, as JSON with --json on stderr', async () => {
    expect(await run(['runtime', 'list', '--json'])).toBe(EXIT.unauthenticated);
    expect(lines).toEqual([]);
    expect(JSON.parse(errors[0])).toEqual({
      error: {
        code: 'UNAUTHENTICATED',
        exitCode: 4,
        message: expect.stringContaining('kre login') as unknown,
      },
    });
  });

  it('refuses login --token off a terminal without KRE_TOKEN or stdin, never prompting', async () => {
    expect(await run(['login', '--token'])).toBe(EXIT.usage);
    expect(errors[0]).toContain('set KRE_TOKEN, pipe it on stdin');
  });

  it('says an expired session needs a new sign-in, without calling the API', async () => {
    await new ConfigStore(dir).save({
      currentContext: 'old',
      contexts: {
        old: {
          api: 'http://127.0.0.1:9',
          email: 'ada@example.com',
          credentials: {
            type: 'session',
            cookie: 'kre_session=x',
            expiresAt: '2020-01-01T00:00:00.000Z',
          },
        },
      },
    });
    expect(await run(['whoami'])).toBe(EXIT.unauthenticated);
    expect(errors[0]).toContain(
      'expired at 2020-01-01T00:00:00.000Z: kre login --email ada@example.com',
    );
  });

  it('switches and lists contexts from the config file', async () => {
    await new ConfigStore(dir).save({
      currentContext: 'a',
      contexts: {
        a: { api: 'http://a' },
        b: { api: 'http://b', email: 'b@x', credentials: { type: 'token', token: 't' } },
      },
    });
    expect(await run(['context', 'use', 'b'])).toBe(EXIT.ok);
    expect(await run(['context', 'list', '--json'])).toBe(EXIT.ok);
    expect(JSON.parse(lines.at(-1)!)).toEqual([
      { name: 'a', current: false, api: 'http://a', email: null, auth: null },
      { name: 'b', current: true, api: 'http://b', email: 'b@x', auth: 'token' },
    ]);
    expect(await run(['context', 'use', 'c'])).toBe(EXIT.notFound);
    expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))).toMatchObject({
      currentContext: 'b',
    });
  });
});

describe('shell completion', () => {
  it('knows every command, its subcommands and options, and is valid bash', () => {
    const program = createProgram(undefined, readCliEnv({ KRE_CONFIG_DIR: tmpdir() }));
    const tree = new Map(commandTree(program).map((n) => [n.path, n]));
    expect(tree.get('')?.subcommands).toEqual(
      expect.arrayContaining([
        'login',
        'runtime',
        'version',
        'config',
        'key',
        'token',
        'call',
        'krt',
      ]),
    );
    expect(tree.get('/runtime/members')?.subcommands).toEqual(['list', 'add', 'remove', 'role']);
    expect(tree.get('/version/start')?.options).toEqual(
      expect.arrayContaining(['--runtime', '--wait', '--timeout', '--json', '--context']),
    );
    const script = bashCompletion(program);
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kre; echo "\${COMPREPLY[*]}"`,
        ],
        {
          encoding: 'utf8',
        },
      ).trim();
    expect(complete('kre', 'version', 'st')).toBe('status start stop');
    expect(complete('kre', 'version', 'start', 'greeter-v1', '--wa')).toBe('--wait');
  });
});

describe('terminal output', () => {
  it('draws a progress bar', () => {
    expect(progressBar(0, 2 * 1024 * 1024, 10)).toBe('[----------]   0%  0.0 MiB / 2.0 MiB');
    expect(progressBar(1024 * 1024, 2 * 1024 * 1024, 10)).toBe(
      '[#####-----]  50%  1.0 MiB / 2.0 MiB',
    );
    expect(progressBar(5, 0, 4)).toBe('[####] 100%  0.0 MiB / 0.0 MiB');
  });

  it('aligns table columns, with - for empty cells', () => {
    expect(
      table(
        ['ID', 'NAME'],
        [
          ['demo', null],
          ['a-longer-id', 'x'],
        ],
      ),
    ).toEqual(['ID           NAME', 'demo         -', 'a-longer-id  x']);
  });
});
