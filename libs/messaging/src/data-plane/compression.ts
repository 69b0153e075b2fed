import { gunzipSync, gzipSync } from 'node:zlib';

/** Thrown when a payload is above the limit even compressed: it is refused, never dropped. */
export class PayloadTooLargeError extends Error {
  constructor(
    readonly what: string,
    readonly size: number,
    readonly compressedSize: number,
    readonly limit: number,
  ) {
    super(
      `${what} is ${size} bytes (${compressedSize} gzip-compressed), above the NATS max payload of ${limit} bytes: send less data, or raise the server's max_payload`,
    );
    this.name = 'PayloadTooLargeError';
  }
}

/** Thrown when compressed data cannot be inflated (corrupt, or larger than allowed). */
export class InvalidCompressionError extends Error {
  constructor(cause: unknown) {
    super(`invalid gzip payload: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'InvalidCompressionError';
  }
}

/** Room kept for NATS headers and protocol framing below the server's max payload. */
export const HEADER_ROOM = 4 * 1024;

/** Largest payload a message can carry: the server's max payload minus room for headers. */
export function payloadLimit(serverMaxPayload: number): number {
  return Math.max(1024, serverMaxPayload - HEADER_ROOM);
}

/** gzip magic bytes; a protobuf envelope never starts with them (0x1f is an invalid tag). */
export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/**
 * What goes on the wire: `data` as is when it fits in `limit`, gzip-compressed otherwise (as
 * KRE's runners did, so KRE-era receivers understand it).
 * @throws PayloadTooLargeError when even the compressed form does not fit.
 */
export function compressToFit(data: Uint8Array, limit: number, what = 'the message'): Uint8Array {
  if (data.length <= limit) return data;
  const compressed = gzipSync(data, { level: 6 });
  if (compressed.length > limit)
    throw new PayloadTooLargeError(what, data.length, compressed.length, limit);
  return compressed;
}

/**
 * The payload as sent: inflated when it starts with the gzip magic bytes.
 * @throws InvalidCompressionError when it does not inflate, or inflates above `maxBytes`.
 */
export function decompressIfNeeded(data: Uint8Array, maxBytes = 256 * 1024 * 1024): Uint8Array {
  if (!isGzip(data)) return data;
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (error) {
    throw new InvalidCompressionError(error);
  }
}
