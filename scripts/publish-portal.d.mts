export const MANIFEST: string;
/** Publishes the build in `staging` into `target` (see publish-portal.mjs); its files. */
export function publishPortal(staging: string, target: string): Promise<string[]>;
