import { describe, expect, it } from 'vitest';
import { INVOCATION_KEY_PATTERN, newInvocationKey } from './invocation-keys.service.js';

describe(newInvocationKey.name, () => {
  it('makes distinct kre_ik_ keys of 40 base62 characters that a scanner finds, and API tokens do not match', () => {
    const keys = Array.from({ length: 1_000 }, () => newInvocationKey());
    expect(new Set(keys).size).toBe(1_000);
    for (const key of keys) expect(key).toMatch(/^kre_ik_[0-9A-Za-z]{40}$/);
    const leaked = `config: {"key": "${keys[0]}"} and ${keys[1]}.`;
    expect(leaked.match(INVOCATION_KEY_PATTERN)).toEqual([keys[0], keys[1]]);
    // Every base62 character turns up (no bias toward a subset).
    expect(
      new Set(
        keys
          .join('')
          .slice(0, 40_000)
          .replace(/kre_ik_/g, ''),
      ).size,
    ).toBe(62);
  });
});
