import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HandlerLoadError, loadHandlerModule } from './handler-module.loader.js';
import { CaptureChannel } from './stdio.capture.js';

const krt = mkdtempSync(join(tmpdir(), 'kre-handlers-'));
mkdirSync(join(krt, 'src'));
const file = (name: string, text: string) => {
  writeFileSync(join(krt, 'src', name), text);
  return `src/${name}`;
};

describe(loadHandlerModule.name, () => {
  it.each([
    [
      'ESM named exports',
      'named.mjs',
      'export const init = () => 1;\nexport const handler = () => 2;\nexport const handlers = { a: () => 3 };',
    ],
    [
      'a default export object',
      'default.mjs',
      'export default { init: () => 1, handler: () => 2, handlers: { a: () => 3 } };',
    ],
    [
      'CommonJS module.exports',
      'common.cjs',
      'module.exports = { init: () => 1, handler: () => 2, handlers: { a: () => 3 } };',
    ],
    [
      'ESM syntax in a .js file',
      'plain.js',
      'export async function handler() { return 2; }\nexport function init() { return 1; }\nexport const handlers = { a: () => 3 };',
    ],
  ])('loads %s', async (_what, name, text) => {
    const mod = await loadHandlerModule(krt, file(name, text), new CaptureChannel());
    expect(await mod.handler?.({} as never, {})).toBe(2);
    expect(Object.keys(mod.handlers)).toEqual(['a']);
    expect(mod.init?.({} as never)).toBe(1);
  });

  it.each([
    ['py.py', 'def handler(ctx, data): pass', 'the Python runner is not available yet'],
    ['go-node', 'binary', 'unsupported node source "(no extension)"'],
    ['syntax.mjs', 'export const handler = (;', 'cannot load src/syntax.mjs'],
    ['empty.mjs', 'export const other = 1;', 'exports no handler'],
    ['bad.mjs', 'export const handlers = { a: 1 };', '`handlers.a` must be a function'],
    [
      'batch.mjs',
      'export const handler = () => 1; export const handlerBatch = 2;',
      '`handlerBatch` must be a function',
    ],
  ])('refuses %s with a clear error', async (name, text, message) => {
    const rel = file(name, text);
    await expect(loadHandlerModule(krt, rel, new CaptureChannel())).rejects.toThrow(
      HandlerLoadError,
    );
    await expect(loadHandlerModule(krt, rel, new CaptureChannel())).rejects.toThrow(message);
  });

  it('reads handlerBatch (a batched node), alone or beside handler', async () => {
    const alone = await loadHandlerModule(
      krt,
      file('only-batch.mjs', 'export const handlerBatch = (ctx, items) => items.map(() => 1);'),
      new CaptureChannel(),
    );
    expect(alone.handler).toBeUndefined();
    expect(await alone.handlerBatch?.({} as never, [{ ctx: {} as never, data: {} }])).toEqual([1]);
    const both = await loadHandlerModule(
      krt,
      file('both.cjs', 'module.exports = { handler: () => 2, handlerBatch: () => [] };'),
      new CaptureChannel(),
    );
    expect(typeof both.handler).toBe('function');
    expect(typeof both.handlerBatch).toBe('function');
  });

  it('refuses a missing file and a path outside the KRT', async () => {
    await expect(loadHandlerModule(krt, 'src/missing.mjs', new CaptureChannel())).rejects.toThrow(
      'handler file not found',
    );
    await expect(loadHandlerModule(krt, '../outside.mjs', new CaptureChannel())).rejects.toThrow(
      new HandlerLoadError(`the handler "../outside.mjs" points outside the KRT (${krt})`),
    );
  });
});
