import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KrtPathError, resolveInsideKrt } from '@libs/config';
import type { BatchHandler, Handler, HandlerModule } from './handler.model.js';
import { type CaptureChannel, runAsUserCode } from './stdio.capture.js';

/** The node's code cannot run here; the message says why and what to do. */
export class HandlerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerLoadError';
  }
}

const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/**
 * Loads a node's handler module: ESM named exports `init`, `handler`, `handlers`, `handlerBatch`
 * (docs/krt.md, "Batching"); or a default
 * export object with those keys; or CommonJS `module.exports` with them.
 * What its top level prints goes to `capture` (the node's log records, once its runner starts).
 * @throws HandlerLoadError for Python or unknown sources, a missing file, a module that fails to
 * load, or one that exports no handler.
 */
export async function loadHandlerModule(
  basePath: string,
  handlerPath: string,
  capture: CaptureChannel,
): Promise<HandlerModule> {
  const ext = extname(handlerPath).toLowerCase();
  if (ext === '.py')
    throw new HandlerLoadError(
      `${handlerPath}: the Python runner is not available yet; this runner runs JavaScript nodes (.js, .mjs, .cjs)`,
    );
  if (!JS_EXTENSIONS.has(ext))
    throw new HandlerLoadError(
      `${handlerPath}: unsupported node source "${ext || '(no extension)'}"; the Node.js runner runs .js, .mjs or .cjs files (KRE's compiled Go nodes are not supported)`,
    );
  let full: string;
  try {
    full = resolveInsideKrt(basePath, handlerPath, 'the handler');
  } catch (error) {
    if (error instanceof KrtPathError) throw new HandlerLoadError(error.message);
    throw error;
  }
  if (!existsSync(full) || !statSync(full).isFile())
    throw new HandlerLoadError(
      `handler file not found: ${full} (KRT_BASE_PATH + KRT_HANDLER_PATH)`,
    );
  let mod: Record<string, unknown>;
  try {
    mod = (await runAsUserCode({ capture }, () => import(pathToFileURL(full).href))) as Record<
      string,
      unknown
    >;
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    throw new HandlerLoadError(`cannot load ${handlerPath}: ${detail}`);
  }
  const fallback = (mod.default ?? {}) as Record<string, unknown>;
  const pick = (key: string) =>
    mod[key] ??
    (typeof fallback === 'object' || typeof fallback === 'function' ? fallback[key] : undefined);
  const init = pick('init');
  const handler = pick('handler');
  const handlers = pick('handlers') ?? {};
  const handlerBatch = pick('handlerBatch');
  if (init !== undefined && typeof init !== 'function')
    throw new HandlerLoadError(`${handlerPath}: \`init\` must be a function`);
  if (handler !== undefined && typeof handler !== 'function')
    throw new HandlerLoadError(`${handlerPath}: \`handler\` must be a function`);
  if (handlerBatch !== undefined && typeof handlerBatch !== 'function')
    throw new HandlerLoadError(`${handlerPath}: \`handlerBatch\` must be a function`);
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers))
    throw new HandlerLoadError(
      `${handlerPath}: \`handlers\` must be an object { [fromNode]: function }`,
    );
  for (const [from, fn] of Object.entries(handlers))
    if (typeof fn !== 'function')
      throw new HandlerLoadError(`${handlerPath}: \`handlers.${from}\` must be a function`);
  if (!handler && !handlerBatch && Object.keys(handlers).length === 0)
    throw new HandlerLoadError(
      `${handlerPath} exports no handler: export \`handler(ctx, data)\` and/or \`handlers = { [fromNode]: fn }\` (or \`handlerBatch(ctx, items)\` for a batched node)`,
    );
  return {
    init: init as HandlerModule['init'],
    handler: handler as Handler | undefined,
    handlers: Object.freeze({ ...(handlers as Record<string, Handler>) }),
    ...(handlerBatch ? { handlerBatch: handlerBatch as BatchHandler } : {}),
  };
}
