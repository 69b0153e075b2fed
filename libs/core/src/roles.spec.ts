import { describe, expect, it } from 'vitest';
import { BadUserInputError, RuntimeNotFoundError } from './errors.js';
import { effectiveRuntimeRole, roleIncludes } from './roles.js';

describe(roleIncludes.name, () => {
  it.each([
    ['VIEWER', 'VIEWER', true],
    ['VIEWER', 'MANAGER', false],
    ['MANAGER', 'VIEWER', true],
    ['MANAGER', 'ADMIN', false],
    ['ADMIN', 'MANAGER', true],
  ] as const)('%s includes %s: %s', (held, required, expected) => {
    expect(roleIncludes(held, required)).toBe(expected);
  });

  it('makes platform admins ADMIN on every runtime, and others what their membership says', async () => {
    const reads: string[] = [];
    const membership = (role: 'MANAGER' | null) => () => {
      reads.push(String(role));
      return Promise.resolve(role);
    };
    expect(await effectiveRuntimeRole('ADMIN', membership(null))).toBe('ADMIN');
    expect(reads).toEqual([]); // a platform admin's membership is never read
    expect(await effectiveRuntimeRole('USER', membership(null))).toBeNull();
    expect(await effectiveRuntimeRole('USER', membership('MANAGER'))).toBe('MANAGER');
    expect(reads).toEqual(['null', 'MANAGER']);
  });
});

describe('domain errors', () => {
  it('carry a code, a message that says the fix, and their details', () => {
    const error = new BadUserInputError([{ field: 'input.email', message: 'must be an email' }]);
    expect(error).toMatchObject({
      code: 'BAD_USER_INPUT',
      name: 'BadUserInputError',
      message: 'invalid input: input.email: must be an email',
      details: { errors: [{ field: 'input.email', message: 'must be an email' }] },
    });
    expect(new RuntimeNotFoundError('demo')).toMatchObject({
      code: 'NOT_FOUND',
      message: 'runtime "demo" not found',
      details: { runtimeId: 'demo' },
    });
  });
});
