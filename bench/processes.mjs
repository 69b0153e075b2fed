/**
 * What the plain-JavaScript benches (dataplane, dataplane-batching, logging) share to run the
 * programs they measure: a free port, and waiting for a program to be ready.
 */
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 now (the OS's pick). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Polls `check` until it holds; gives up at once if `child` (the process it waits for) ended. */
export async function waitFor(check, what, timeoutMs = 60_000, child = undefined) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} ended before it was ready`);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`);
}

/** Waits for the program's `/readyz` on `port` to answer 200. */
export function waitReady(port, what, child, timeoutMs = 60_000) {
  return waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
    what,
    timeoutMs,
    child,
  );
}
