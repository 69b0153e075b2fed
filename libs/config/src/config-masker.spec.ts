import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigMasker, MASK } from './config-masker.js';

describe(ConfigMasker.name, () => {
  it('masks each value, longest first, and leaves short ones (true, 0.5) alone', () => {
    const masker = new ConfigMasker(['s3cr3t-token', 's3cr3t-token-v2', 'true', '0.5']);
    expect(masker.mask('a=s3cr3t-token-v2 b=s3cr3t-token c=true d=0.5')).toBe(
      `a=${MASK} b=${MASK} c=true d=0.5`,
    );
  });

  it("masks a file's content whole and each of its lines (a key printed line by line)", () => {
    const pem =
      '-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0B\nAQEFAASCAUEwggE9AgEAAkEA\n-----END KEY-----';
    const masker = new ConfigMasker([pem]);
    expect(masker.mask(`key: ${pem}`)).toBe(`key: ${MASK}`);
    expect(masker.mask('line MIIBVwIBADANBgkqhkiG9w0B seen')).toBe(`line ${MASK} seen`);
  });

  it("reads a workload's config files from KRT_CONFIG_FILES_DIR beside its variables", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kre-mask-'));
    writeFileSync(join(dir, 'model.json'), '{"apiKey":"sk-live-123456"}');
    const masker = ConfigMasker.ofWorkload({ PASSWORD: 'hunter2-hunter2' }, dir);
    expect(masker.mask('pw hunter2-hunter2 file {"apiKey":"sk-live-123456"}')).toBe(
      `pw ${MASK} file ${MASK}`,
    );
    expect(ConfigMasker.ofWorkload({}, join(dir, 'missing')).empty).toBe(true);
  });
});
