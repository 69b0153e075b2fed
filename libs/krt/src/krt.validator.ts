import {
  checkDependencies,
  checkPythonRequirements,
  dependencyFolders,
} from './dependency.rules.js';
import { checkWorkflowGraphs } from './graph.rules.js';
import { resolveLayout, type KrtContents, type KrtLayout } from './krt.contents.js';
import type { IssueCollector } from './krt.errors.js';
import type { ResolvedKrtOptions } from './krt.limits.js';
import type { Krt } from './krt.model.js';
import { FieldReader } from './manifest.fields.js';
import { loadManifest, positionLookup } from './manifest.loader.js';
import { normalizeManifest } from './manifest.normalizer.js';
import { checkDerivedNames } from './names.rules.js';
import { checkEntrypointProto } from './proto.rules.js';
import { nodeRuntime } from './runner.images.js';

/**
 * Validates what a reader found (archive or folder) and returns the normalised model, adding to
 * `issues` everything wrong at once.
 * @throws KrtInvalidError when any error was found (here or earlier by the reader).
 */
export function validateContents(
  contents: KrtContents,
  issues: IssueCollector,
  options: ResolvedKrtOptions,
): { krt: Krt; layout: KrtLayout } {
  const layout = resolveLayout(contents, issues);
  if (!layout) return issues.fail();
  const { limits } = options;
  const bytes = layout.kept.get(layout.manifest);
  if (!bytes) {
    const tooBig = layout.tooBig.get(layout.manifest) ?? `${layout.manifest} could not be read`;
    issues.error(layout.manifest, `${tooBig}: shorten the manifest`);
    return issues.fail();
  }
  const loaded = loadManifest(bytes, layout.manifest, limits.maxManifestBytes, issues);
  if (!loaded) return issues.fail();
  issues.locate(positionLookup(loaded.positions));
  const reader = new FieldReader(issues, loaded.keyPositions);
  const draft = normalizeManifest(loaded.value, reader, { files: layout.files, limits });
  checkWorkflowGraphs(draft.workflows, issues);
  checkDerivedNames(draft, options, issues);
  const rpcs = checkEntrypointProto(draft, layout, limits, issues);
  checkDependencies(layout, issues);
  const pythonSrcs = draft.workflows.flatMap((w) =>
    w.workflow.nodes.filter((n) => n.src && nodeRuntime(n) === 'python').map((n) => n.src),
  );
  const requirements = checkPythonRequirements(layout, pythonSrcs, issues);
  issues.throwIfErrors();
  const krt: Krt = {
    krtVersion: draft.krtVersion,
    version: draft.version,
    description: draft.description,
    entrypoint: draft.entrypoint,
    config: draft.config,
    workflows: draft.workflows.map((d) => d.workflow),
    rpcs,
    manifest: layout.manifest,
    docs: [...layout.files.keys()].filter((f) => f.startsWith('docs/')).sort(),
    dependencies: dependencyFolders(layout.files.keys()),
    requirements,
    warnings: issues.warnings,
  };
  return { krt, layout };
}
