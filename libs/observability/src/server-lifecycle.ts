import type { AddressInfo, Server } from 'node:net';

/** Listens on `host:port` (0: any free port); resolves with the bound port, or says what failed. */
export function listenOn(
  server: Server,
  what: string,
  host: string,
  port: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: Error) =>
      reject(
        new Error(`cannot listen for ${what} on ${host}:${port}: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Stops taking connections and waits at most `graceMs` for the ones in progress; HTTP/1 servers
 * close idle keep-alive connections at once and every connection when the grace runs out.
 */
export async function closeWithin(
  server: Server & { closeIdleConnections?: () => void; closeAllConnections?: () => void },
  graceMs: number,
): Promise<void> {
  await new Promise<void>((done) => {
    const timer = setTimeout(() => {
      server.closeAllConnections?.();
      done();
    }, graceMs);
    server.close(() => {
      clearTimeout(timer);
      done();
    });
    server.closeIdleConnections?.();
  });
}
