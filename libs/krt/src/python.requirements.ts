import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { flattenRequirements, type PythonRequirements } from './dependency.rules.js';
import { IssueCollector } from './krt.errors.js';
import { DEFAULT_KRT_LIMITS } from './krt.limits.js';

/**
 * The flattened requirements of `file` in an extracted KRT at `root` (which the hardened reader
 * validated): what the engine hands pip instead of the KRT's own files.
 * @throws KrtInvalidError when the file breaks a rule (a KRT stored before the rule existed).
 */
export function readPythonRequirements(root: string, file: string): PythonRequirements {
  const issues = new IssueCollector();
  const result = flattenRequirements(
    file,
    (path) => {
      try {
        const stat = statSync(join(root, path));
        if (!stat.isFile()) return undefined;
        if (stat.size > DEFAULT_KRT_LIMITS.maxLockfileBytes)
          return { missing: `${path} is ${stat.size} bytes, over the requirements limit` };
        return readFileSync(join(root, path));
      } catch {
        return undefined;
      }
    },
    issues,
  );
  issues.throwIfErrors();
  return result;
}
