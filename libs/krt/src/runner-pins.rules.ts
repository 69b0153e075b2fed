/**
 * A KRT's requirements share the Python node's environment with the runner's own dependencies
 * (runners/python/pyproject.toml), so a pin outside what the runner works with can never
 * install or run. Checked at upload, so the team hears it then rather than from a failed start
 * (on Kubernetes, the dependencies are installed only when the pod starts).
 */

/** The runner's own dependencies and the versions it works with: [lowest, first refused). */
export const RUNNER_PYTHON_DEPENDENCIES: Readonly<Record<string, readonly [string, string]>> = {
  'nats-py': ['2.9', '3'],
  pynacl: ['1.5', '2'],
  uvloop: ['0.21', '1'],
  protobuf: ['3.20', '8'],
};

type Bound = { version: number[]; inclusive: boolean } | undefined;

/** The release segments of a version (`4.21.12rc1` → [4, 21, 12]); undefined when none. */
function release(version: string): number[] | undefined {
  const match = /^v?(\d+(?:\.\d+)*)/i.exec(version.trim());
  return match ? match[1].split('.').map(Number) : undefined;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The first version after every release starting with `prefix` (`1.2` → `1.3`). */
function after(prefix: number[]): number[] {
  return [...prefix.slice(0, -1), prefix[prefix.length - 1] + 1];
}

/** PEP 503's normalised project name. */
const normalise = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

/**
 * Why a requirement line (PEP 508, already checked for its shape) pins one of the runner's own
 * dependencies outside the versions the runner works with; undefined when it does not (other
 * projects, `!=` clauses and lines with an environment marker are not judged).
 */
export function runnerPinProblem(requirement: string): string | undefined {
  if (requirement.includes(';')) return undefined;
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?([^)]*)\)?\s*$/.exec(
    requirement.trim(),
  );
  if (!match) return undefined;
  const name = normalise(match[1]);
  const range = RUNNER_PYTHON_DEPENDENCIES[name];
  if (!range || !match[2].trim()) return undefined;
  let lower: Bound = { version: release(range[0])!, inclusive: true };
  let upper: Bound = { version: release(range[1])!, inclusive: false };
  const raise = (version: number[], inclusive: boolean): void => {
    const d = compare(version, lower!.version);
    if (d > 0 || (d === 0 && !inclusive)) lower = { version, inclusive };
  };
  const cap = (version: number[], inclusive: boolean): void => {
    const d = compare(version, upper!.version);
    if (d < 0 || (d === 0 && !inclusive)) upper = { version, inclusive };
  };
  for (const clause of match[2].split(',')) {
    const parts = /^\s*(===|==|!=|<=|>=|~=|<|>)\s*(\S+)\s*$/.exec(clause);
    if (!parts) return undefined;
    const [, op, text] = parts;
    const wildcard = text.endsWith('.*');
    const version = release(wildcard ? text.slice(0, -2) : text);
    if (!version) return undefined;
    if (op === '!=') continue;
    if ((op === '==' || op === '===') && wildcard) {
      raise(version, true);
      cap(after(version), false);
    } else if (op === '==' || op === '===') {
      raise(version, true);
      cap(version, true);
    } else if (op === '>=') raise(version, true);
    else if (op === '>') raise(version, false);
    else if (op === '<=') cap(version, true);
    else if (op === '<') cap(version, false);
    else if (op === '~=' && version.length >= 2) {
      raise(version, true);
      cap(after(version.slice(0, -1)), false);
    }
  }
  const d = compare(lower.version, upper.version);
  if (d < 0 || (d === 0 && lower.inclusive && upper.inclusive)) return undefined;
  return `${match[1]} ${match[2].trim()} leaves no version the Python runner works with: the runner itself needs ${name}>=${range[0]},<${range[1]} in the node's environment, so pin a version in that range`;
}
