import { describe, expect, it } from 'vitest';
import { valueAt } from '../auth/runtime-role.guard.js';
import { readCookie } from './cookies.js';

describe(valueAt.name, () => {
  it('finds the runtime id at a dotted path, and nothing where there is none', () => {
    expect(valueAt({ runtimeId: 'a' }, 'runtimeId')).toBe('a');
    expect(valueAt({ input: { runtimeId: 'b' } }, 'input.runtimeId')).toBe('b');
    expect(valueAt({ input: null }, 'input.runtimeId')).toBeUndefined();
    expect(valueAt({}, 'filters.runtimeId')).toBeUndefined();
    expect(valueAt({ input: 'x' }, 'input.runtimeId')).toBeUndefined();
  });
});

describe(readCookie.name, () => {
  it('reads one cookie of a Cookie header', () => {
    const header = 'a=1; __Host-kre_session=abc%2D_; other="quoted"';
    expect(readCookie(header, '__Host-kre_session')).toBe('abc-_');
    expect(readCookie(header, 'other')).toBe('quoted');
    expect(readCookie(header, 'missing')).toBeUndefined();
    expect(readCookie(undefined, 'a')).toBeUndefined();
    expect(readCookie('bad=%E0%A4%A', 'bad')).toBeUndefined();
  });
});
