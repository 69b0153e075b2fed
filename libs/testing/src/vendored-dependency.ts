import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { create } from 'tar';

const run = promisify(execFile);

/**
 * Makes `nodeDir` (a node folder of a KRT) declare a dependency the way teams do, with a
 * package.json and a package-lock.json, on a package it vendors as a tarball (`file:vendor/…`),
 * so npm installs it offline exactly as it would a registry package: as files.
 * `files` is the package's content (e.g. `{'index.js': "export const word = 'Ahoy';"}`).
 */
export async function addVendoredDependency(
  nodeDir: string,
  pkg: { name: string; files: Record<string, string> },
): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'kre-vendored-'));
  try {
    const root = join(scratch, 'package');
    await mkdir(root);
    await writeFile(
      join(root, 'package.json'),
      JSON.stringify({ name: pkg.name, version: '1.0.0', type: 'module', main: 'index.js' }),
    );
    for (const [file, content] of Object.entries(pkg.files))
      await writeFile(join(root, file), content);
    const tarball = `vendor/${pkg.name}-1.0.0.tgz`;
    await mkdir(join(nodeDir, 'vendor'), { recursive: true });
    await create({ gzip: true, file: join(nodeDir, tarball), cwd: scratch, portable: true }, [
      'package',
    ]);
    await writeFile(
      join(nodeDir, 'package.json'),
      JSON.stringify({
        name: 'kre-node',
        version: '1.0.0',
        private: true,
        dependencies: { [pkg.name]: `file:${tarball}` },
      }),
    );
    await run(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
      {
        cwd: nodeDir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          npm_config_cache: join(scratch, 'npm-cache'),
          npm_config_update_notifier: 'false',
        },
      },
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
