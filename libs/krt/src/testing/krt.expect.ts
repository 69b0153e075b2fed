import { expect } from 'vitest';
import { KrtInvalidError, type KrtErrorBody, type KrtIssue } from '../krt.errors.js';

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
