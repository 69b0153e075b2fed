import { slugify } from '@libs/naming';
import { checkRelativePath } from './entry-path.rules.js';
import type { KrtLimits } from './krt.limits.js';
import { quoteList } from './krt.errors.js';
import { parseCpu, parseMemory } from '@libs/core';
import type {
  KrtNode,
  KrtNodeBatch,
  KrtNodeResources,
  KrtObjectStore,
  KrtSubscription,
  KrtWorkflow,
} from './krt.model.js';
import { type FieldReader, isResourceName, type Fields } from './manifest.fields.js';
import { childPath } from './manifest.loader.js';
import { imageRepository, nodeRuntime } from './runner.images.js';

/** A node plus where it came from, for the rules that run on the normalised model. */
export interface NodeDraft {
  node: KrtNode;
  /** Path of the node's `name` field (v1: the top-level node). */
  namePath: string;
  /** Path of each subscription (v1: the `sequential` item that implies it). */
  subscriptionPaths: string[];
  objectStorePath?: string;
}

/** A workflow plus the paths of its fields. */
export interface WorkflowDraft {
  workflow: KrtWorkflow;
  path: string;
  nodes: NodeDraft[];
}

/** The manifest in the normalised shape, with field paths for later rules. */
export interface ManifestDraft {
  krtVersion: 'v1' | 'v2';
  version: string;
  description: string;
  entrypoint: { proto: string; image: string };
  config: { variables: string[]; files: string[] };
  workflows: WorkflowDraft[];
}

interface NormalizeContext {
  files: ReadonlyMap<string, number>;
  limits: Pick<KrtLimits, 'maxReplicas' | 'maxPathBytes' | 'maxPathDepth'>;
}

/** The top-level nodes of a v1 manifest, indexed for the workflows' `sequential` lists. */
interface V1Nodes {
  list: NodeDraft[];
  byDisplay: Map<string, NodeDraft>;
  bySlug: Map<string, NodeDraft>;
}

const TOP_KEYS = ['krtVersion', 'version', 'description', 'entrypoint', 'config', 'workflows'];
const V1_NODE_KEYS = ['name', 'image', 'src', 'gpu', 'replicas', 'resources', 'batch'];
const V2_NODE_KEYS = [...V1_NODE_KEYS, 'subscriptions', 'objectStore'];
const ENV_KEY = /^[A-Z0-9]([_A-Z0-9]*[A-Z0-9])?$/;
const RPC_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RUNNABLE = /\.(m?js|cjs|py)$/;
/** `batch` bounds: a batch larger than this is one huge message; a wait longer, a slow answer. */
export const BATCH_MAX_SIZE = 1_024;
export const BATCH_MAX_LATENCY_MS = 10_000;
/** Below these a runner does not start (Node alone takes ~40 MiB); the cgroup's quota floor is 1m. */
const MIN_MEMORY_BYTES = 64 * 2 ** 20;
const MIN_CPU_MILLIS = 10;

/** The workload's own environment, which config keys may not override. */
const SHADOWED: { test: (key: string) => boolean; what: string }[] = [
  { test: (k) => k.startsWith('KRT_'), what: 'KRT_* is the engine’s' },
  { test: (k) => k === 'PATH' || k === 'HOME', what: 'the process needs it' },
  { test: (k) => k.startsWith('NODE_'), what: 'NODE_* configures Node.js' },
  { test: (k) => k.startsWith('PYTHON'), what: 'PYTHON* configures Python' },
  { test: (k) => k.startsWith('LD_'), what: 'LD_* configures the dynamic linker' },
];

/**
 * Reads a v1 or v2 manifest into the one model (v1 nodes instantiated per workflow), reporting
 * every field problem. Graph, name-length and proto rules run afterwards on the result.
 */
export function normalizeManifest(
  root: Fields,
  reader: FieldReader,
  ctx: NormalizeContext,
): ManifestDraft {
  const issues = reader.issues;
  const krtVersion = detectVersion(root, reader);
  if (krtVersion === 'v1') reader.unknownKeys(root, '', [...TOP_KEYS, 'nodes']);
  else reader.unknownKeys(root, '', TOP_KEYS, ['nodes']);
  const n = new Normalizer(reader, ctx);
  const draft: ManifestDraft = {
    krtVersion,
    version: reader.resourceName(root, 'version', '', 'version') ?? '',
    description:
      reader.string(root, 'description', '', 'say in a sentence what this version does') ?? '',
    entrypoint: n.entrypoint(root.entrypoint),
    config: n.config(root.config),
    workflows: [],
  };
  if (krtVersion === 'v2' && root.nodes !== undefined) {
    issues.error(
      'nodes',
      'top-level "nodes" is the v1 form: with krtVersion v2, declare the nodes inside each workflow (or remove krtVersion to use v1)',
    );
  }
  draft.workflows = krtVersion === 'v1' ? n.v1Workflows(root) : n.v2Workflows(root);
  return draft;
}

function detectVersion(root: Fields, reader: FieldReader): 'v1' | 'v2' {
  const value = root.krtVersion;
  if (value === undefined || value === null || value === 'v1') return 'v1';
  if (value === 'v2') return 'v2';
  reader.issues.error(
    'krtVersion',
    `krtVersion must be "v2" (branched workflows) or absent/"v1" (sequential workflows), not ${JSON.stringify(value)}`,
  );
  return root.nodes === undefined ? 'v2' : 'v1';
}

class Normalizer {
  private folderSet?: Set<string>;

  constructor(
    private readonly reader: FieldReader,
    private readonly ctx: NormalizeContext,
  ) {}

  private get issues() {
    return this.reader.issues;
  }

  entrypoint(value: unknown): { proto: string; image: string } {
    const out = { proto: '', image: '' };
    if (value === undefined || value === null) {
      this.issues.error(
        'entrypoint',
        '"entrypoint" is required: give its proto (e.g. public_input.proto) and image',
      );
      return out;
    }
    const fields = this.reader.object(value, 'entrypoint', '"entrypoint"');
    if (!fields) return out;
    this.reader.unknownKeys(fields, 'entrypoint', ['proto', 'image']);
    const proto = this.reader.string(
      fields,
      'proto',
      'entrypoint',
      'name the .proto file that declares service Entrypoint (e.g. public_input.proto)',
    );
    if (proto !== undefined) {
      if (!proto.endsWith('.proto')) {
        this.issues.error(
          'entrypoint.proto',
          `"${proto}" must be a .proto file: end it with .proto`,
        );
      } else {
        const checked = checkRelativePath(proto, this.ctx.limits);
        if (!checked.ok || checked.trailingSlash || !checked.path) {
          const reason = checked.ok ? 'it names a folder' : checked.reason;
          this.issues.error('entrypoint.proto', `"${proto}" is not a usable path: ${reason}`);
        } else {
          out.proto = checked.path;
        }
      }
    }
    out.image =
      this.reader.string(fields, 'image', 'entrypoint', 'name the entrypoint image') ?? '';
    return out;
  }

  config(value: unknown): { variables: string[]; files: string[] } {
    const out = { variables: [] as string[], files: [] as string[] };
    if (value === undefined || value === null) return out;
    const fields = this.reader.object(value, 'config', '"config"');
    if (!fields) return out;
    this.reader.unknownKeys(fields, 'config', ['variables', 'files']);
    const seen = new Map<string, string>();
    for (const kind of ['variables', 'files'] as const) {
      const list = this.reader.list(fields, kind, 'config', {
        required: false,
        nonEmpty: false,
        hint: `list the ${kind === 'variables' ? 'variable' : 'file'} names, e.g. [API_KEY]`,
      });
      list?.forEach((item, i) => {
        const at = `config.${kind}[${i}]`;
        const key = this.configKey(item, at);
        if (key === undefined) return;
        const first = seen.get(key);
        if (first) {
          this.issues.error(
            at,
            `the config key "${key}" is already declared at ${first}: keep one`,
          );
          return;
        }
        seen.set(key, at);
        out[kind].push(key);
      });
    }
    return out;
  }

  private configKey(item: unknown, at: string): string | undefined {
    if (typeof item !== 'string') {
      this.issues.error(
        at,
        `a config key must be a string, not ${JSON.stringify(item) ?? 'empty'}`,
      );
      return undefined;
    }
    if (!ENV_KEY.test(item)) {
      this.issues.error(
        at,
        `"${item}" is not a valid config key: use upper-case letters, digits and underscores, not starting or ending with "_" (e.g. API_KEY)`,
      );
      return undefined;
    }
    const shadow = SHADOWED.find((s) => s.test(item));
    if (shadow) {
      this.issues.error(
        at,
        `"${item}" would override the workload's own environment (${shadow.what}): choose another name`,
      );
      return undefined;
    }
    return item;
  }

  v2Workflows(root: Fields): WorkflowDraft[] {
    const list = this.reader.list(root, 'workflows', '', {
      required: true,
      nonEmpty: true,
      hint: 'declare at least one workflow (name, entrypoint, exitpoint, nodes)',
    });
    const drafts: WorkflowDraft[] = [];
    list?.forEach((item, i) => {
      const path = `workflows[${i}]`;
      const fields = this.reader.object(item, path, 'a workflow');
      if (!fields) return;
      this.incompatible(
        fields,
        path,
        ['sequential'],
        'v2',
        'list the nodes with their subscriptions',
      );
      this.reader.unknownKeys(
        fields,
        path,
        ['name', 'entrypoint', 'exitpoint', 'nodes'],
        ['sequential'],
      );
      const name = this.reader.resourceName(fields, 'name', path, 'workflow') ?? '';
      const workflow: KrtWorkflow = {
        name,
        displayName: name,
        entrypoint: this.rpc(fields, path),
        exitpoint:
          this.reader.string(
            fields,
            'exitpoint',
            path,
            'name the node whose output answers the request',
          ) ?? '',
        nodes: [],
      };
      const nodes: NodeDraft[] = [];
      const list = this.reader.list(fields, 'nodes', path, {
        required: true,
        nonEmpty: true,
        hint: 'declare the nodes of this workflow (name, image, src, subscriptions)',
      });
      const names = new Map<string, string>();
      list?.forEach((raw, j) => {
        const nodePath = `${path}.nodes[${j}]`;
        const node = this.v2Node(raw, nodePath);
        if (!node) return;
        if (node.node.name) {
          const first = names.get(node.node.name);
          if (first) {
            this.issues.error(
              `${nodePath}.name`,
              `the node name "${node.node.name}" is already used at ${first}: node names must be unique in a workflow`,
            );
          } else {
            names.set(node.node.name, nodePath);
          }
        }
        nodes.push(node);
      });
      workflow.nodes = nodes.map((d) => d.node);
      drafts.push({ workflow, path, nodes });
    });
    this.uniqueWorkflows(drafts);
    return drafts;
  }

  private v2Node(raw: unknown, path: string): NodeDraft | undefined {
    const fields = this.reader.object(raw, path, 'a node');
    if (!fields) return undefined;
    this.reader.unknownKeys(fields, path, V2_NODE_KEYS);
    const name = this.reader.resourceName(fields, 'name', path, 'node') ?? '';
    if (name === 'entrypoint') this.reservedNode(`${path}.name`, name);
    const draft: NodeDraft = {
      node: { name, displayName: name, ...this.nodeBody(fields, path), subscriptions: [] },
      namePath: `${path}.name`,
      subscriptionPaths: [],
    };
    const subscriptions = this.reader.list(fields, 'subscriptions', path, {
      required: true,
      nonEmpty: true,
      hint: 'subscribe the node to entrypoint, to another node, or to <node>.<channel>',
    });
    const seen = new Set<string>();
    subscriptions?.forEach((item, k) => {
      const at = `${path}.subscriptions[${k}]`;
      const sub = this.subscription(item, at);
      if (!sub) return;
      const key = `${sub.node}.${sub.channel ?? ''}`;
      if (seen.has(key)) {
        this.issues.error(at, `the subscription "${String(item)}" is listed twice: keep one`);
        return;
      }
      seen.add(key);
      draft.node.subscriptions.push(sub);
      draft.subscriptionPaths.push(at);
    });
    if (fields.objectStore !== undefined && fields.objectStore !== null) {
      draft.objectStorePath = `${path}.objectStore`;
      const store = this.objectStore(fields.objectStore, draft.objectStorePath);
      if (store) draft.node.objectStore = store;
    }
    return draft;
  }

  private subscription(item: unknown, at: string): KrtSubscription | undefined {
    if (typeof item !== 'string' || !item) {
      this.issues.error(
        at,
        `a subscription must be "entrypoint", "<node>" or "<node>.<channel>", not ${JSON.stringify(item) ?? 'empty'}`,
      );
      return undefined;
    }
    const parts = item.split('.');
    if (parts.length > 2 || parts.some((p) => !p)) {
      this.issues.error(
        at,
        `"${item}" is not a subscription: write "entrypoint", "<node>" or "<node>.<channel>"`,
      );
      return undefined;
    }
    const [node, channel] = parts;
    if (node === 'entrypoint' && channel !== undefined) {
      this.issues.error(at, `the entrypoint has no channels: subscribe to "entrypoint"`);
      return undefined;
    }
    if (channel !== undefined && !isResourceName(channel)) {
      this.issues.error(
        at,
        `"${channel}" is not a valid channel name: use lowercase letters, digits and single hyphens, starting with a letter`,
      );
      return undefined;
    }
    return channel === undefined ? { node } : { node, channel };
  }

  private objectStore(value: unknown, path: string): KrtObjectStore | undefined {
    const fields = this.reader.object(value, path, '"objectStore"');
    if (!fields) return undefined;
    this.reader.unknownKeys(fields, path, ['name', 'scope']);
    const name = this.reader.resourceName(fields, 'name', path, 'object store');
    const scope = fields.scope ?? 'workflow';
    if (scope !== 'workflow' && scope !== 'project') {
      this.issues.error(
        `${path}.scope`,
        `the object store scope must be "workflow" or "project", not ${JSON.stringify(scope)}`,
      );
      return undefined;
    }
    return name === undefined ? undefined : { name, scope };
  }

  v1Workflows(root: Fields): WorkflowDraft[] {
    const nodes = this.v1Nodes(root);
    const list = this.reader.list(root, 'workflows', '', {
      required: true,
      nonEmpty: true,
      hint: 'declare at least one workflow (name, entrypoint, sequential)',
    });
    const drafts: WorkflowDraft[] = [];
    const used = new Set<string>();
    list?.forEach((item, i) => {
      const path = `workflows[${i}]`;
      const fields = this.reader.object(item, path, 'a workflow');
      if (!fields) return;
      this.incompatible(
        fields,
        path,
        ['exitpoint', 'nodes'],
        'v1',
        'list the node names under "sequential", or add krtVersion: v2 to use nodes and exitpoint',
      );
      this.reader.unknownKeys(
        fields,
        path,
        ['name', 'entrypoint', 'sequential'],
        ['exitpoint', 'nodes'],
      );
      const displayName =
        this.reader.string(
          fields,
          'name',
          path,
          'give the workflow a name such as "New prediction"',
        ) ?? '';
      const name = displayName ? this.slug(displayName, `${path}.name`, 'workflow') : '';
      const workflow: KrtWorkflow = {
        name,
        displayName,
        entrypoint: this.rpc(fields, path),
        exitpoint: '',
        nodes: [],
      };
      const draft: WorkflowDraft = { workflow, path, nodes: [] };
      const sequence = this.reader.list(fields, 'sequential', path, {
        required: true,
        nonEmpty: true,
        hint: 'list the names of the nodes this workflow runs, in order',
      });
      const inThis = new Set<string>();
      let previous = 'entrypoint';
      sequence?.forEach((ref, k) => {
        const at = `${path}.sequential[${k}]`;
        const found = this.v1Reference(ref, at, nodes);
        if (!found) return;
        if (inThis.has(found.node.name)) {
          this.issues.error(
            at,
            `"${String(ref)}" appears twice in this workflow: a node runs once per workflow`,
          );
          return;
        }
        inThis.add(found.node.name);
        used.add(found.node.name);
        const node: KrtNode = { ...found.node, subscriptions: [{ node: previous }] };
        draft.nodes.push({ node, namePath: found.namePath, subscriptionPaths: [at] });
        previous = node.name;
      });
      workflow.nodes = draft.nodes.map((d) => d.node);
      workflow.exitpoint = workflow.nodes.at(-1)?.name ?? '';
      drafts.push(draft);
    });
    nodes.list.forEach((d) => {
      if (d.node.name && !used.has(d.node.name)) {
        this.issues.warning(
          d.namePath.replace(/\.name$/, ''),
          `the node "${d.node.displayName}" is in no workflow: add it to a workflow's "sequential" list or remove it`,
        );
      }
    });
    this.uniqueWorkflows(drafts);
    return drafts;
  }

  private v1Nodes(root: Fields): V1Nodes {
    const list = this.reader.list(root, 'nodes', '', {
      required: true,
      nonEmpty: true,
      hint: 'declare the nodes (name, image, src) that the workflows run, or add krtVersion: v2',
    });
    const drafts: NodeDraft[] = [];
    const byDisplay = new Map<string, string>();
    const bySlug = new Map<string, string>();
    list?.forEach((raw, k) => {
      const path = `nodes[${k}]`;
      const fields = this.reader.object(raw, path, 'a node');
      if (!fields) return;
      this.incompatible(
        fields,
        path,
        ['subscriptions', 'objectStore'],
        'v1',
        'v1 nodes run in the order of "sequential"; add krtVersion: v2 to use subscriptions and object stores',
      );
      this.reader.unknownKeys(fields, path, V1_NODE_KEYS, ['subscriptions', 'objectStore']);
      const displayName =
        this.reader.string(
          fields,
          'name',
          path,
          'give the node a name such as "Execute DL Model"',
        ) ?? '';
      let name = '';
      if (displayName) {
        if (byDisplay.has(displayName)) {
          this.issues.error(
            `${path}.name`,
            `the node name "${displayName}" is already used at ${byDisplay.get(displayName)}: rename one`,
          );
        } else {
          byDisplay.set(displayName, path);
          name = this.slug(displayName, `${path}.name`, 'node');
          const clash = bySlug.get(name);
          if (name && clash) {
            this.issues.error(
              `${path}.name`,
              `"${displayName}" and the node at ${clash} both become "${name}" in derived names: rename one`,
            );
            name = '';
          } else if (name) {
            bySlug.set(name, path);
            if (name === 'entrypoint') {
              this.reservedNode(`${path}.name`, displayName);
              name = '';
            }
          }
        }
      }
      drafts.push({
        node: { name, displayName, ...this.nodeBody(fields, path), subscriptions: [] },
        namePath: `${path}.name`,
        subscriptionPaths: [],
      });
    });
    const index: V1Nodes = { list: drafts, byDisplay: new Map(), bySlug: new Map() };
    for (const d of drafts) {
      // The first declaration wins; later duplicates were reported above.
      if (!index.byDisplay.has(d.node.displayName)) index.byDisplay.set(d.node.displayName, d);
      if (d.node.name && !index.bySlug.has(d.node.name)) index.bySlug.set(d.node.name, d);
    }
    return index;
  }

  private v1Reference(ref: unknown, at: string, nodes: V1Nodes): NodeDraft | undefined {
    if (typeof ref !== 'string' || !ref) {
      this.issues.error(
        at,
        `a sequential item must be a node name, not ${JSON.stringify(ref) ?? 'empty'}`,
      );
      return undefined;
    }
    const found = nodes.byDisplay.get(ref);
    if (found) return found.node.name ? found : undefined;
    const bySlug = nodes.bySlug.get(slugify(ref));
    const known = quoteList(nodes.list.map((d) => d.node.displayName));
    this.issues.error(
      at,
      bySlug
        ? `no node is named "${ref}": did you mean "${bySlug.node.displayName}"?`
        : `no node is named "${ref}": use one of the names under "nodes" (${known})`,
    );
    return undefined;
  }

  /** Fields shared by v1 and v2 nodes. */
  private nodeBody(
    fields: Fields,
    path: string,
  ): Pick<KrtNode, 'image' | 'src' | 'gpu' | 'replicas' | 'resources' | 'batch'> {
    const image =
      this.reader.string(fields, 'image', path, 'name the image that runs the node') ?? '';
    const src = this.src(fields, path);
    if (image && src) this.runnable(image, src, fields.name, path);
    const resources = this.resources(fields, path);
    const batch = this.batch(fields, path);
    return {
      image,
      src,
      gpu: this.reader.boolean(fields, 'gpu', path, false),
      replicas: this.replicas(fields, path),
      ...(resources ? { resources } : {}),
      ...(batch ? { batch } : {}),
    };
  }

  /**
   * `batch: {maxSize: 32, maxLatencyMs: 5}`: adaptive batching, both fields required (a batch
   * handler's cost depends on both, so neither has a silent default).
   */
  private batch(fields: Fields, path: string): KrtNodeBatch | undefined {
    const value = fields.batch;
    if (value === undefined || value === null) return undefined;
    const at = `${path}.batch`;
    const map = this.reader.object(value, at, '"batch"');
    if (!map) return undefined;
    this.reader.unknownKeys(map, at, ['maxSize', 'maxLatencyMs']);
    const whole = (key: string, min: number, max: number, meaning: string): number | undefined => {
      const raw = map[key];
      if (raw === undefined || raw === null) {
        this.issues.error(`${at}.${key}`, `"${key}" is required: ${meaning}`);
        return undefined;
      }
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
        this.issues.error(
          `${at}.${key}`,
          `"${key}" must be a whole number from ${min} to ${max} (${meaning}), not ${JSON.stringify(raw)}`,
        );
        return undefined;
      }
      return raw;
    };
    const maxSize = whole('maxSize', 1, BATCH_MAX_SIZE, 'the most messages in one handler call');
    const maxLatencyMs = whole(
      'maxLatencyMs',
      0,
      BATCH_MAX_LATENCY_MS,
      'milliseconds a batch waits after its first message',
    );
    return maxSize === undefined || maxLatencyMs === undefined
      ? undefined
      : { maxSize, maxLatencyMs };
  }

  /**
   * `resources: {memory: 512Mi, cpu: 0.5}`: one replica's limits (either may be left out: the
   * installation's default applies), in Kubernetes's units.
   */
  private resources(fields: Fields, path: string): KrtNodeResources | undefined {
    const value = fields.resources;
    if (value === undefined || value === null) return undefined;
    const at = `${path}.resources`;
    const map = this.reader.object(value, at, '"resources"');
    if (!map) return undefined;
    this.reader.unknownKeys(map, at, ['memory', 'cpu']);
    const out: KrtNodeResources = {};
    if (map.memory !== undefined && map.memory !== null) {
      const memory = parseMemory(map.memory);
      if (!memory.ok) this.issues.error(`${at}.memory`, `"memory" of one replica ${memory.reason}`);
      else if (memory.value < MIN_MEMORY_BYTES)
        this.issues.error(
          `${at}.memory`,
          `"memory" is ${JSON.stringify(map.memory)}; a replica needs at least 64Mi: raise it`,
        );
      else out.memoryBytes = memory.value;
    }
    if (map.cpu !== undefined && map.cpu !== null) {
      const cpu = parseCpu(map.cpu);
      if (!cpu.ok) this.issues.error(`${at}.cpu`, `"cpu" of one replica ${cpu.reason}`);
      else if (cpu.value < MIN_CPU_MILLIS)
        this.issues.error(
          `${at}.cpu`,
          `"cpu" is ${JSON.stringify(map.cpu)}; a replica needs at least 10m (0.01 CPU): raise it`,
        );
      else out.cpuMillis = cpu.value;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  /**
   * Whether one of our runners can run the node: KRE's compiled Go nodes (image `kre-go`, a
   * binary under `bin/`) cannot, nor can a Python image run a JavaScript file.
   */
  private runnable(image: string, src: string, name: unknown, path: string): void {
    if (!this.ctx.files.has(src)) return; // reported by src()
    const node = typeof name === 'string' && name ? `the node "${name}"` : 'this node';
    const runtime = nodeRuntime({ image, src });
    const rewrite =
      'rewrite its handler in Python (.py, image konstellation/kre-py or kre/runner-python) or JavaScript (.js, .mjs, .cjs, image kre/runner-node)';
    if (runtime === 'go') {
      this.issues.error(
        `${path}.image`,
        `${node} uses KRE's Go runner ("${image}"), which this engine does not run (compiled Go nodes are not supported): ${rewrite}`,
      );
    } else if (!RUNNABLE.test(src)) {
      this.issues.error(
        `${path}.src`,
        `${node} runs "${src}", which is neither JavaScript (.js, .mjs, .cjs) nor Python (.py): compiled (Go) nodes are not supported; ${rewrite}`,
      );
    } else if (runtime === 'python' && !src.endsWith('.py')) {
      this.issues.error(
        `${path}.src`,
        `${node} uses the Python runner image "${imageRepository(image)}" but its src "${src}" is not a Python file: point src at a .py file, or use image kre/runner-node for JavaScript`,
      );
    }
  }

  private src(fields: Fields, path: string): string {
    const at = `${path}.src`;
    const value = this.reader.string(
      fields,
      'src',
      path,
      "give the path of the node's handler file in the KRT (e.g. src/etl/handler.js)",
    );
    if (value === undefined) return '';
    const checked = checkRelativePath(value, this.ctx.limits);
    if (!checked.ok) {
      this.issues.error(at, `"${value}" is not a usable path: ${checked.reason}`);
      return '';
    }
    if (this.ctx.files.has(checked.path)) return checked.path;
    const isFolder = checked.path === '' || this.folders().has(checked.path);
    this.issues.error(
      at,
      isFolder
        ? `"${value}" is a folder: point src at the handler file inside it`
        : `"${value}" is not a file in the KRT: add it, or fix the path (relative to the KRT root)`,
    );
    return checked.path;
  }

  /** Every folder that holds a file (computed once, for "src is a folder" messages). */
  private folders(): Set<string> {
    if (!this.folderSet) {
      this.folderSet = new Set();
      for (const file of this.ctx.files.keys()) {
        for (let i = file.indexOf('/'); i !== -1; i = file.indexOf('/', i + 1)) {
          this.folderSet.add(file.slice(0, i));
        }
      }
    }
    return this.folderSet;
  }

  private replicas(fields: Fields, path: string): number {
    const at = `${path}.replicas`;
    const value = fields.replicas;
    const max = this.ctx.limits.maxReplicas;
    if (value === undefined || value === null) return 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      this.issues.error(
        at,
        `"replicas" must be a whole number from 1 to ${max}, not ${JSON.stringify(value)}`,
      );
      return 1;
    }
    if (value === 0) {
      this.issues.warning(
        at,
        '"replicas: 0" runs 1 replica (as KRE did): write 1, or remove the field',
      );
      return 1;
    }
    if (value > max) {
      this.issues.error(at, `"replicas" is ${value}; the most allowed is ${max}: lower it`);
      return max;
    }
    return value;
  }

  private rpc(fields: Fields, path: string): string {
    const value = this.reader.string(
      fields,
      'entrypoint',
      path,
      'name the rpc of service Entrypoint that starts this workflow',
    );
    if (value === undefined) return '';
    if (!RPC_NAME.test(value)) {
      this.issues.error(
        `${path}.entrypoint`,
        `"${value}" is not an rpc name: use the name of an rpc of service Entrypoint (letters, digits, _)`,
      );
      return '';
    }
    return value;
  }

  private slug(displayName: string, at: string, what: string): string {
    const slug = slugify(displayName);
    if (!slug) {
      this.issues.error(
        at,
        `"${displayName}" has no letters or digits, so no ${what} name can be derived from it: rename it`,
      );
    }
    return slug;
  }

  private reservedNode(at: string, name: string): void {
    this.issues.error(
      at,
      `"${name}" names the workflow's input, so no node may be called "entrypoint": rename the node`,
    );
  }

  private incompatible(
    fields: Fields,
    path: string,
    keys: readonly string[],
    form: 'v1' | 'v2',
    fix: string,
  ): void {
    for (const key of keys) {
      if (fields[key] !== undefined) {
        this.issues.error(
          childPath(path, key),
          `"${key}" is incompatible with KRT ${form}: ${fix}`,
        );
      }
    }
  }

  private uniqueWorkflows(drafts: WorkflowDraft[]): void {
    const names = new Map<string, WorkflowDraft>();
    const rpcs = new Map<string, WorkflowDraft>();
    for (const draft of drafts) {
      const { name, displayName, entrypoint } = draft.workflow;
      const sameName = name ? names.get(name) : undefined;
      if (sameName) {
        const both =
          sameName.workflow.displayName === displayName
            ? ''
            : ` ("${sameName.workflow.displayName}" and "${displayName}" both become "${name}")`;
        this.issues.error(
          `${draft.path}.name`,
          `the workflow name "${displayName}" is already used at ${sameName.path}${both}: workflow names must be unique`,
        );
      } else if (name) {
        names.set(name, draft);
      }
      const sameRpc = entrypoint ? rpcs.get(entrypoint) : undefined;
      if (sameRpc) {
        this.issues.error(
          `${draft.path}.entrypoint`,
          `the rpc "${entrypoint}" already starts ${sameRpc.path}: give each workflow its own rpc`,
        );
      } else if (entrypoint) {
        rpcs.set(entrypoint, draft);
      }
    }
  }
}
