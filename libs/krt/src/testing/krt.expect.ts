import { expect } from 'vitest';
import { KrtInvalidError, type KrtErrorBody, type KrtIssue } from '../krt.errors.js';
import { openKrt } from '../krt.reader.js';
import { krtBytes, streamOf } from './tar.builder.js';

/** Test-only: awaits a rejection that must be our own error type, and returns its wire shape. */
export async function krtFailure(promise: Promise<unknown>): Promise<KrtErrorBody> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, 'expected the KRT to be refused').toBeInstanceOf(KrtInvalidError);
  return (outcome as KrtInvalidError).toJSON();
}

/** Test-only: an error issue without position (archive findings have none). */
export function archiveError(path: string, message: string): KrtIssue {
  return { path, message, severity: 'error' };
}

/** Test-only: the KRT these files make, which must be accepted. */
export async function acceptKrt(files: Record<string, string>) {
  return (await openKrt(streamOf(krtBytes(files)))).krt;
}

/** Test-only: the errors (path and message) of the KRT these files make, which must be refused. */
export async function krtErrors(
  files: Record<string, string>,
): Promise<Pick<KrtIssue, 'path' | 'message'>[]> {
  return (await krtFailure(openKrt(streamOf(krtBytes(files))))).errors
    .filter((e) => e.severity === 'error')
    .map(({ path, message }) => ({ path, message }));
}
