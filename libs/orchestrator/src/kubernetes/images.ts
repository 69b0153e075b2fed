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

/**
 * The image a workload runs: KRE's images are mapped to ours by the installation's table
 * (looked up by repository, so every tag maps); any other image is used as it is.
 * @throws UnsupportedImageError when the table maps the image to nothing
 */
export function resolveImage(
  images: KubernetesDriverOptions['images'],
  workloadId: string,
  image: string,
): string {
  const repository = imageRepository(image);
  if (!Object.hasOwn(images.map, repository)) return image;
  const mapped = images.map[repository];
  if (mapped === null) throw new UnsupportedImageError(workloadId, image);
  return mapped;
}
