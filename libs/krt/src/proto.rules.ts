import { posix } from 'node:path';
import protobuf from 'protobufjs';
import { checkRelativePath } from './entry-path.rules.js';
import type { KrtLayout } from './krt.contents.js';
import { quoteList, type IssueCollector } from './krt.errors.js';
import type { KrtLimits } from './krt.limits.js';
import type { ManifestDraft } from './manifest.normalizer.js';

const PROTO = 'entrypoint.proto';
const MAX_IMPORT_DEPTH = 16;
const MAX_PROTO_FILES = 64;

/**
 * Parses the entrypoint proto and its imports (only files of the KRT, plus the well-known
 * google/protobuf types protobufjs bundles), checks that it declares `service Entrypoint`, and
 * that every workflow's entrypoint is one of its rpcs. Parsing builds a reflection tree only:
 * nothing the proto declares is compiled or run. Returns the rpc names.
 */
export function checkEntrypointProto(
  draft: ManifestDraft,
  layout: Pick<KrtLayout, 'files' | 'kept' | 'tooBig'>,
  limits: Pick<KrtLimits, 'maxPathBytes' | 'maxPathDepth'>,
  issues: IssueCollector,
): string[] {
  const file = draft.entrypoint.proto;
  if (!file) return [];
  if (!layout.files.has(file)) {
    issues.error(
      PROTO,
      `"${file}" is not a file in the KRT: add it, or fix the path (relative to the KRT root)`,
    );
    return [];
  }
  const loader = new ProtoLoader(layout, limits, issues);
  if (!loader.load(file, 0)) return [];
  try {
    loader.root.resolveAll();
  } catch (error) {
    issues.error(PROTO, `${file}: ${describeError(error)}: declare or import that type`);
    return [];
  }
  const service = findService(loader.root, 'Entrypoint');
  if (!service) {
    issues.error(
      PROTO,
      `${file} declares no "service Entrypoint": add one with an rpc per workflow entrypoint`,
    );
    return [];
  }
  const rpcs = Object.keys(service.methods);
  const used = new Set<string>();
  for (const { workflow, path } of draft.workflows) {
    if (!workflow.entrypoint) continue;
    used.add(workflow.entrypoint);
    if (!rpcs.includes(workflow.entrypoint)) {
      const known = rpcs.length ? quoteList(rpcs) : 'none';
      issues.error(
        `${path}.entrypoint`,
        `service Entrypoint in ${file} has no rpc "${workflow.entrypoint}": add it, or use one of its rpcs (${known})`,
      );
    }
  }
  for (const rpc of rpcs) {
    if (!used.has(rpc)) {
      issues.warning(
        PROTO,
        `the rpc "${rpc}" of service Entrypoint starts no workflow: calls to it will fail`,
      );
    }
  }
  return rpcs;
}

class ProtoLoader {
  readonly root = new protobuf.Root();
  private readonly loaded = new Set<string>();

  constructor(
    private readonly layout: Pick<KrtLayout, 'files' | 'kept' | 'tooBig'>,
    private readonly limits: Pick<KrtLimits, 'maxPathBytes' | 'maxPathDepth'>,
    private readonly issues: IssueCollector,
  ) {}

  /** Parses one file of the KRT into the shared root, then its imports. */
  load(file: string, depth: number): boolean {
    if (this.loaded.has(file)) return true;
    this.loaded.add(file);
    if (this.loaded.size > MAX_PROTO_FILES || depth > MAX_IMPORT_DEPTH) {
      this.issues.error(
        PROTO,
        `the entrypoint proto imports more than ${MAX_PROTO_FILES} files or nests imports deeper than ${MAX_IMPORT_DEPTH}: simplify it`,
      );
      return false;
    }
    const tooBig = this.layout.tooBig.get(file);
    const bytes = this.layout.kept.get(file);
    if (tooBig || !bytes) {
      this.issues.error(PROTO, `${tooBig ?? `${file} could not be read`}: shrink the proto`);
      return false;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      this.issues.error(PROTO, `${file} is not valid UTF-8: save it as UTF-8`);
      return false;
    }
    let parsed: protobuf.IParserResult;
    try {
      parsed = protobuf.parse(text, this.root, { keepCase: true, alternateCommentMode: true });
    } catch (error) {
      this.issues.error(PROTO, `${file} does not parse: ${describeError(error)}`);
      return false;
    }
    let ok = true;
    for (const name of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      ok = this.import(file, name, depth) && ok;
    }
    return ok;
  }

  private import(from: string, name: string, depth: number): boolean {
    const bundled = (protobuf.common as unknown as { get(file: string): unknown }).get(name) as
      { nested?: Record<string, unknown>; options?: Record<string, unknown> } | null | undefined;
    if (bundled) {
      if (!this.loaded.has(name)) {
        this.loaded.add(name);
        if (bundled.nested)
          this.root.addJSON(bundled.nested as protobuf.INamespace['nested'] & object);
      }
      return true;
    }
    const candidates = [name, posix.join(posix.dirname(from), name)];
    for (const candidate of candidates) {
      const checked = checkRelativePath(candidate, this.limits);
      if (checked.ok && checked.path && this.layout.files.has(checked.path)) {
        return this.load(checked.path, depth + 1);
      }
    }
    const checked = checkRelativePath(name, this.limits);
    const why = checked.ok
      ? 'it is not a file of the KRT: add it (imports resolve from the KRT root or the importing file’s folder)'
      : `${checked.reason}; imports may not leave the KRT`;
    this.issues.error(PROTO, `${from} imports "${name}", which cannot be used: ${why}`);
    return false;
  }
}

function findService(ns: protobuf.NamespaceBase, name: string): protobuf.Service | undefined {
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Service && child.name === name) return child;
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) {
      const found = findService(child, name);
      if (found) return found;
    }
  }
  return undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
