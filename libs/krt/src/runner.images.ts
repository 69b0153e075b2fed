/**
 * Which of our runners a node's image asks for. KRE named its runners by image: `kre-py` ran
 * Python handlers, `kre-go` compiled Go binaries; ours are `kre/runner-node` and
 * `kre/runner-python`. Any other image runs the handler its `src` names (`.py`: Python).
 */

/** Images whose nodes run in our Python runner (repository, without tag). */
export const PYTHON_RUNNER_IMAGES: readonly string[] = [
  'konstellation/kre-py',
  'kre/runner-python',
];
/** KRE's Go runner: compiled binaries, which this engine does not run. */
export const GO_RUNNER_IMAGES: readonly string[] = ['konstellation/kre-go'];

/** `registry:5000/team/img:tag@sha256:…` → `registry:5000/team/img`. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return colon === -1 ? withoutDigest : withoutDigest.slice(0, colon);
}

/** The language of a node's handler: from its image when that is a KRE or KRE runner image. */
export function nodeRuntime(node: { image: string; src: string }): 'python' | 'node' | 'go' {
  const repository = imageRepository(node.image);
  if (GO_RUNNER_IMAGES.includes(repository)) return 'go';
  if (PYTHON_RUNNER_IMAGES.includes(repository) || node.src.endsWith('.py')) return 'python';
  return 'node';
}
