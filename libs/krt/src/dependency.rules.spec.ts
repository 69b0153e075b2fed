import { describe, expect, it } from 'vitest';
import { openKrt, requirementsFileOf, type KrtIssue } from './index.js';
import { krtFailure } from './testing/krt.expect.js';
import { v1Files, v2Files } from './testing/krt.fixtures.js';
import { krtBytes, streamOf } from './testing/tar.builder.js';

type Files = Record<string, string>;
const NODE = 'src/etl';
const INTEGRITY = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
const registryEntry = (name: string, version = '1.0.0') => ({
  version,
  resolved: `https://registry.npmjs.org/${name}/-/${name.slice(name.lastIndexOf('/') + 1)}-${version}.tgz`,
  integrity: INTEGRITY,
});

/** A v2 KRT whose etl node declares dependencies with this lockfile `packages` map. */
function withLockfile(packages: Record<string, unknown>, lockName = 'package-lock.json'): Files {
  return {
    ...v2Files(),
    [`${NODE}/package.json`]: JSON.stringify({ name: 'etl', version: '1.0.0' }),
    [`${NODE}/${lockName}`]: JSON.stringify({
      name: 'etl',
      lockfileVersion: 3,
      packages: { '': { name: 'etl', version: '1.0.0' }, ...packages },
    }),
  };
}

const accepted = async (files: Files) => (await openKrt(streamOf(krtBytes(files)))).krt;
async function refused(files: Files): Promise<KrtIssue[]> {
  return (await krtFailure(openKrt(streamOf(krtBytes(files))))).errors;
}
const lockPath = (key: string, lock = 'package-lock.json') =>
  `archive[${JSON.stringify(`${NODE}/${lock}`)}].packages[${JSON.stringify(key)}]`;

describe('KRT dependency rules', () => {
  it('accepts registry tarballs pinned by integrity, scoped, nested, aliased and bundled', async () => {
    const krt = await accepted(
      withLockfile({
        'node_modules/left-pad': registryEntry('left-pad'),
        'node_modules/@scope/util': registryEntry('@scope/util', '2.1.0-beta.1'),
        'node_modules/a/node_modules/b': registryEntry('b', '0.0.1'),
        'node_modules/alias': { ...registryEntry('real-name', '3.0.0'), name: 'real-name' },
        'node_modules/a/node_modules/bundled': { version: '1.0.0', inBundle: true },
        // npm may omit `resolved` for the default registry: fetched by name and version.
        'node_modules/no-resolved': { version: '1.2.3', integrity: INTEGRITY },
      }),
    );
    expect(krt.dependencies).toEqual([NODE]);
  });

  it.each([
    ['.npmrc', `${NODE}/.npmrc`, 'git=./x.sh\n'],
    ['.yarnrc.yml', '.yarnrc.yml', 'yarnPath: x.cjs\n'],
    ['.pnpmfile.cjs', `${NODE}/.pnpmfile.cjs`, 'module.exports = {}\n'],
    ['bunfig.toml', 'bunfig.toml', '[install]\n'],
    ['pip.conf', 'src/py/pip.conf', '[global]\nindex-url = http://evil\n'],
  ])(
    'refuses a KRT that configures a package manager (%s), naming the file',
    async (name, path, content) => {
      const errors = await refused({ ...v2Files(), [path]: content });
      const found = errors.find((e) => e.path === `archive[${JSON.stringify(path)}]`);
      expect(found?.message).toContain(`"${name}" configures a package manager`);
    },
  );

  it('refuses the .yarn folder (yarn runs the release it holds)', async () => {
    const errors = await refused({ ...v2Files(), '.yarn/releases/yarn.cjs': 'evil()' });
    expect(errors[0].message).toContain('the ".yarn" folder configures a package manager');
  });

  it.each([
    [
      'a git dependency',
      {
        version: 'git+ssh://git@github.com/x/y.git#abc',
        resolved: 'git+ssh://git@github.com/x/y.git#abc',
      },
      'is not a registry version',
    ],
    [
      'a file: dependency',
      { version: 'file:../evil', resolved: 'file:../evil' },
      'is not a registry version',
    ],
    ['a linked folder', { resolved: 'vendor/x', link: true }, 'a linked'],
    [
      'a remote tarball URL',
      { version: '1.0.0', resolved: 'https://evil.example/x.tgz', integrity: INTEGRITY },
      'is not the registry tarball of x@1.0.0',
    ],
    [
      'another package’s tarball',
      { ...registryEntry('lodash'), resolved: registryEntry('evil').resolved.replace('evil', 'x') },
      'is not the registry tarball of x@1.0.0',
    ],
    ['no integrity', { version: '1.0.0' }, 'has no integrity hash'],
    [
      'a sha1 integrity',
      { version: '1.0.0', integrity: 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
      'is not a sha512',
    ],
  ])('refuses %s, naming the lockfile entry', async (_what, entry, message) => {
    const errors = await refused(withLockfile({ 'node_modules/x': entry }));
    expect(errors.map((e) => e.path)).toEqual([lockPath('node_modules/x')]);
    expect(errors[0].message).toContain(message);
  });

  it('refuses workspace folders and checks npm-shrinkwrap.json the same way', async () => {
    const errors = await refused(
      withLockfile(
        { 'packages/a': { version: '1.0.0' }, 'node_modules/y': { version: 'latest' } },
        'npm-shrinkwrap.json',
      ),
    );
    expect(errors.map((e) => e.path)).toEqual([
      lockPath('packages/a', 'npm-shrinkwrap.json'),
      lockPath('node_modules/y', 'npm-shrinkwrap.json'),
    ]);
  });

  it('walks a v1 lockfile’s nested dependencies', async () => {
    const errors = await refused({
      ...v2Files(),
      [`${NODE}/package.json`]: '{}',
      [`${NODE}/package-lock.json`]: JSON.stringify({
        lockfileVersion: 1,
        dependencies: {
          ok: registryEntry('ok'),
          parent: { ...registryEntry('parent'), dependencies: { bad: { version: 'github:x/y' } } },
        },
      }),
    });
    expect(errors).toEqual([
      expect.objectContaining({
        path: `archive[${JSON.stringify(`${NODE}/package-lock.json`)}].dependencies["parent"].dependencies["bad"]`,
      }),
    ]);
  });

  it('refuses a lockfile that is not JSON, and ignores one without a package.json beside it', async () => {
    const broken = await refused({
      ...v2Files(),
      [`${NODE}/package.json`]: '{}',
      [`${NODE}/package-lock.json`]: '{not json',
    });
    expect(broken[0].message).toContain('is not valid JSON');
    await expect(
      accepted({ ...v2Files(), 'docs/package-lock.json': '{not json' }),
    ).resolves.toBeDefined();
  });

  it('refuses a lockfile over the size limit without reading it', async () => {
    const files = withLockfile({ 'node_modules/x': registryEntry('x') });
    const errors = (
      await krtFailure(openKrt(streamOf(krtBytes(files)), { limits: { maxLockfileBytes: 64 } }))
    ).errors;
    expect(errors[0]).toMatchObject({
      path: `archive[${JSON.stringify(`${NODE}/package-lock.json`)}]`,
    });
    expect(errors[0].message).toContain('shrink the lockfile');
  });
});

describe('KRT dependency rules: Python requirements.txt', () => {
  const ETL = 'src/etl/requirements.txt';
  const inFile = (file: string) => `archive[${JSON.stringify(file)}]`;

  it('records the root file and the one beside a node (nearest wins), with includes inside the KRT', async () => {
    const krt = await accepted({
      ...v1Files(),
      'requirements.txt': [
        '# KRE-era pins',
        'protobuf==3.20.1',
        'numpy >=1.23, <3 ; python_version >= "3.9"',
        'scikit-learn[alldeps]~=1.5 \\',
        '    --hash=sha256:0123456789abcdef',
        '-c constraints.txt',
        '',
      ].join('\n'),
      'constraints.txt': 'six==1.16.0\n',
      [ETL]: '-r ../../requirements.txt\n--requirement=requirements-extra.txt\nrequests\n',
      'src/etl/requirements-extra.txt': 'idna==3.7\n',
      // Not used by any node (no requirements.txt name, or no Python node there): not checked.
      'tools/requirements.txt': '--index-url https://elsewhere.example/simple\n',
    });
    expect(krt.requirements).toEqual(['requirements.txt', ETL]);
    expect(requirementsFileOf('src/etl/execute_etl.py', krt.requirements!)).toBe(ETL);
    expect(requirementsFileOf('src/output/output.py', krt.requirements!)).toBe('requirements.txt');
    expect(requirementsFileOf('src/output/output.py', [])).toBeUndefined();
  });

  it('records nothing for a KRT without Python nodes, whatever requirements.txt it holds', async () => {
    const krt = await accepted({ ...v2Files(), 'requirements.txt': '-e .\n' });
    expect(krt.requirements).toEqual([]);
  });

  it.each([
    ['--index-url https://evil.example/simple', 'points pip at another index or location'],
    ['-i https://evil.example/simple', 'points pip at another index or location'],
    ['--extra-index-url=https://evil.example/simple', 'points pip at another index or location'],
    ['--find-links ./wheels', 'points pip at another index or location'],
    ['-f https://evil.example/wheels', 'points pip at another index or location'],
    ['--trusted-host evil.example', 'points pip at another index or location'],
    ['-e git+https://github.com/x/y.git#egg=y', 'an editable install (-e)'],
    ['--editable ./lib', 'an editable install (-e)'],
    ['--pre', 'the option "--pre" is not allowed'],
    ['--no-binary :all:', 'the option "--no-binary" is not allowed'],
    ['-r https://evil.example/requirements.txt', 'is outside the KRT'],
    ['-r ../../../requirements.txt', 'is outside the KRT'],
    ['-c /etc/constraints.txt', 'is outside the KRT'],
    ['-r requirements-missing.txt', 'is not a file of the KRT'],
    ['-r src/etl/execute_etl.py', 'must be named requirements*.txt or constraints*.txt'],
    ['-r requirements.txt', 'includes itself'],
    ['mylib @ https://evil.example/mylib-1.0.tar.gz', 'a direct URL reference'],
    ['https://evil.example/mylib-1.0-py3-none-any.whl', 'a direct URL reference'],
    ['git+https://github.com/x/y.git', 'a version-control (VCS) dependency'],
    ['./vendor/mylib', 'a local path or archive'],
    ['file:///tmp/mylib', 'a direct URL reference'],
    ['mylib-1.0-py3-none-any.whl', 'a local path or archive'],
    ['requests==${VERSION}', 'environment variables'],
    ['requests==2.0 --global-option=build_ext', 'the option "--global-option" is not allowed'],
    ['nats-py==2.2.0', 'the runner itself needs nats-py>=2.9,<3'],
  ])('refuses "%s" at upload, naming the file and line', async (line, why) => {
    const issues = await refused({
      ...v1Files(),
      'requirements.txt': `protobuf==3.20.1\n\n${line}\n`,
    });
    expect(issues).toHaveLength(1);
    expect(issues[0].path).toBe(inFile('requirements.txt'));
    expect(issues[0].message).toContain(`line 3 ${JSON.stringify(line)}: `);
    expect(issues[0].message).toContain(why);
  });

  it('checks included files too, naming the included file', async () => {
    const issues = await refused({
      ...v1Files(),
      'requirements.txt': 'protobuf==3.20.1\n-r requirements-dev.txt\n',
      'requirements-dev.txt': 'ok==1.0\n--extra-index-url https://evil.example\n',
    });
    expect(issues.map((i) => [i.path, i.message.split(':')[0]])).toEqual([
      [inFile('requirements-dev.txt'), 'line 2 "--extra-index-url https'],
    ]);
  });
});
