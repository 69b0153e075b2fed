import { imageRepository } from '@libs/krt';
import type { KubernetesDriverOptions } from './kubernetes.options.js';

export { imageRepository };

/** Thrown at start when a KRT names an image KRE had but we have no runner for. */
export class UnsupportedImageError extends Error {
  constructor(
    readonly workloadId: string,
    readonly image: string,
  ) {
    super(
      `workload "${workloadId}" uses image "${image}", which this installation cannot run: ` +
        'KRE ran it, but its runner does not exist here yet (map it with KUBE_IMAGE_MAP to an image that does)',
    );
    this.name = 'UnsupportedImageError';
  }
}

/** Thrown at start when a KRT names an image the installation neither maps nor allows. */
export class ImageNotAllowedError extends Error {
  constructor(
    readonly workloadId: string,
    readonly image: string,
  ) {
    super(
      `workload "${workloadId}" uses image "${image}", which this installation does not run: ` +
        "use one of KRE's runner images, or ask the installation's operators to allow it (KUBE_ALLOWED_IMAGES) or map it (KUBE_IMAGE_MAP)",
    );
    this.name = 'ImageNotAllowedError';
  }
}

/** Whether `repository` is one of `allowed` (a repository, or a prefix ending in `/*`). */
function isAllowed(repository: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) =>
    entry.endsWith('/*') ? repository.startsWith(entry.slice(0, -1)) : repository === entry,
  );
}

/**
 * The image a workload runs: KRE's images are mapped to ours by the installation's table
 * (looked up by repository, so every tag maps); another image runs only when the installation
 * allows its repository (it would run with the nodes' pull credentials, without our runner).
 * @throws UnsupportedImageError when the table maps the image to nothing
 * @throws ImageNotAllowedError when the image is neither mapped nor allowed
 */
export function resolveImage(
  images: KubernetesDriverOptions['images'],
  workloadId: string,
  image: string,
): string {
  const repository = imageRepository(image);
  if (!Object.hasOwn(images.map, repository)) {
    if (isAllowed(repository, images.allowed ?? [])) return image;
    throw new ImageNotAllowedError(workloadId, image);
  }
  const mapped = images.map[repository];
  if (mapped === null) throw new UnsupportedImageError(workloadId, image);
  return mapped;
}
