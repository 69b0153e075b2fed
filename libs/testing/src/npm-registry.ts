import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';

/**
 * A package registry on loopback for tests, serving the tarballs it was given at the paths a
 * registry serves them (`/<name>/-/<bare name>-<version>.tgz`): the engine's npm reaches it
 * with `--registry`, as it would reach the real one, offline.
 */
export class TestNpmRegistry {
  /** Paths requested, in order (what npm fetched). */
  readonly requests: string[] = [];
  private readonly tarballs = new Map<string, Buffer>();

  private readonly server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push(path);
    const body = this.tarballs.get(path);
    if (!body) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  /** `http://127.0.0.1:<port>/`, once started. */
  url = '';

  private constructor() {}

  static async start(): Promise<TestNpmRegistry> {
    const registry = new TestNpmRegistry();
    await new Promise<void>((resolve) => registry.server.listen(0, '127.0.0.1', resolve));
    const { port } = registry.server.address() as AddressInfo;
    registry.url = `http://127.0.0.1:${port}/`;
    return registry;
  }

  /**
   * Publishes a package; returns its lockfile entry as a team's lockfile made against the public
   * registry holds it (the engine rewrites the host to its own registry).
   */
  async publish(pkg: {
    name: string;
    version?: string;
    files: Record<string, string>;
  }): Promise<{ version: string; resolved: string; integrity: string }> {
    const version = pkg.version ?? '1.0.0';
    const scratch = await mkdtemp(join(tmpdir(), 'kre-registry-'));
    try {
      const root = join(scratch, 'package');
      await mkdir(root);
      await writeFile(
        join(root, 'package.json'),
        JSON.stringify({ name: pkg.name, version, type: 'module', main: 'index.js' }),
      );
      for (const [file, content] of Object.entries(pkg.files))
        await writeFile(join(root, file), content);
      const tgz = join(scratch, 'package.tgz');
      await create({ gzip: true, file: tgz, cwd: scratch, portable: true }, ['package']);
      const bytes = await readFile(tgz);
      const bare = pkg.name.slice(pkg.name.lastIndexOf('/') + 1);
      const path = `/${pkg.name}/-/${bare}-${version}.tgz`;
      this.tarballs.set(path, bytes);
      return {
        version,
        resolved: `https://registry.npmjs.org${path}`,
        integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
      };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Removes every version of a package (its tarballs answer 404). */
  unpublish(name: string): void {
    for (const path of this.tarballs.keys())
      if (path.startsWith(`/${name}/-/`)) this.tarballs.delete(path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Makes `nodeDir` (a node folder of a KRT) declare a dependency the way teams do, with a
 * package.json and a package-lock.json naming a registry tarball by its integrity; the package
 * itself is published to `registry`. `files` is its content (`{'index.js': "export …"}`).
 */
export async function addRegistryDependency(
  nodeDir: string,
  registry: TestNpmRegistry,
  pkg: { name: string; version?: string; files: Record<string, string> },
): Promise<void> {
  const entry = await registry.publish(pkg);
  const manifest = {
    name: 'kre-node',
    version: '1.0.0',
    private: true,
    dependencies: { [pkg.name]: entry.version },
  };
  await writeFile(join(nodeDir, 'package.json'), JSON.stringify(manifest, null, 2));
  await writeFile(
    join(nodeDir, 'package-lock.json'),
    JSON.stringify(
      {
        name: 'kre-node',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'kre-node', version: '1.0.0', dependencies: manifest.dependencies },
          [`node_modules/${pkg.name}`]: entry,
        },
      },
      null,
      2,
    ),
  );
}

/**
 * The attack a security review reproduced on `npm ci`: `nodeDir` gets an `.npmrc` that points
 * npm's git at the KRT's own `x.sh` (which would write the environment to `marker`), and a
 * lockfile entry that makes npm call git. Upload and preparation must refuse it before npm runs.
 */
export async function addNpmConfigAttack(nodeDir: string, marker: string): Promise<void> {
  await writeFile(join(nodeDir, '.npmrc'), 'git=./x.sh\n');
  await writeFile(join(nodeDir, 'x.sh'), `#!/bin/sh\nenv > ${marker}\n`, { mode: 0o755 });
  await writeFile(
    join(nodeDir, 'package.json'),
    JSON.stringify({ name: 'n', dependencies: { x: 'git+https://example.com/x.git' } }),
  );
  await writeFile(
    join(nodeDir, 'package-lock.json'),
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'n' },
        'node_modules/x': { version: '1.0.0', resolved: 'git+https://example.com/x.git#0123' },
      },
    }),
  );
}
