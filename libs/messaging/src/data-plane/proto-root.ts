import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Thrown when a `.proto` file cannot be loaded; the message names the file and the cause. */
export class ProtoLoadError extends Error {
  constructor(file: string, cause: unknown) {
    super(`cannot load ${file}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'ProtoLoadError';
  }
}

/**
 * Loads a `.proto` file and its imports into a fresh protobufjs Root, keeping the proto field
 * names (`keepCase`). Imports resolve against `includeDirs` first, then the importing file's
 * folder; the well-known types (`google/protobuf/*.proto`) come bundled with protobufjs.
 * @throws ProtoLoadError with the file and the parser's message.
 */
export function loadProtoRoot(file: string, includeDirs: readonly string[] = []): protobuf.Root {
  const root = new protobuf.Root();
  const original = root.resolvePath.bind(root);
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      try {
        accessSync(candidate, constants.R_OK);
        return candidate;
      } catch {
        // not in this include dir
      }
    }
    return original(origin, target);
  };
  try {
    root.loadSync(file, { keepCase: true });
    root.resolveAll();
  } catch (error) {
    throw new ProtoLoadError(file, error);
  }
  return root;
}

let protoDirCache: string | undefined;

/**
 * The repository's `proto/` folder (KRE's own protos), found by walking up from this module:
 * the same code runs from `libs/…/src` (tests) and `dist/libs/…/src` (built apps).
 */
export function kreProtoDir(): string {
  if (protoDirCache) return protoDirCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'proto/kre/kre_nats_msg.proto'))) {
      protoDirCache = join(dir, 'proto');
      return protoDirCache;
    }
    const parent = resolve(dir, '..');
    if (parent === dir)
      throw new Error(
        'proto/kre/kre_nats_msg.proto not found above the app: ship the repository `proto/` folder next to `dist/`',
      );
    dir = parent;
  }
}

let kreRoot: protobuf.Root | undefined;

/** KRE's own protos (envelope, records, data requests) in one Root, loaded once. */
export function kreProtos(): protobuf.Root {
  if (kreRoot) return kreRoot;
  const dir = kreProtoDir();
  const root = new protobuf.Root();
  try {
    root.loadSync(
      ['kre/kre_nats_msg.proto', 'kre/records.proto', 'kre/data.proto'].map((f) => join(dir, f)),
      { keepCase: true },
    );
    root.resolveAll();
  } catch (error) {
    throw new ProtoLoadError(`${dir}/kre/*.proto`, error);
  }
  kreRoot = root;
  return root;
}
