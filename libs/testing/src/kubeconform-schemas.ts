import { mkdirSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** A JSON Schema node of the API server's OpenAPI v2 document. */
type Schema = { [keyword: string]: unknown };

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** Where kubeconform finds the schemas: pass it as `-schema-location`. */
export interface KubeconformSchemas {
  readonly dir: string;
  /** `<dir>/{{ .ResourceKind }}{{ .KindSuffix }}.json` */
  readonly location: string;
  /** The files written, e.g. `deployment-apps-v1.json`. */
  readonly files: readonly string[];
}

const DEFINITION_REF = '#/definitions/';

/**
 * Writes one standalone JSON schema per kind the API server serves, generated from its own
 * OpenAPI v2 document (nothing is downloaded from elsewhere), in the layout kubeconform's
 * `-schema-location '<dir>/{{ .ResourceKind }}{{ .KindSuffix }}.json'` reads: the kind in lower
 * case, then `-<first label of the group>-<version>` (`deployment-apps-v1`,
 * `ingress-networking-v1`) or, for the core group, `-<version>` (`service-v1`). The transforms
 * are those of kubeconform's openapi2jsonschema with `--strict`: `int-or-string` becomes
 * `oneOf` string/integer, every object with `properties` gets `additionalProperties: false` (so
 * an unknown field is an error), and the root's `kind` and `apiVersion` are pinned with `enum`.
 * Each file carries the definitions it references under `definitions`, so its `$ref`s resolve
 * inside it (recursive types included).
 * @param kubeconfig kubeconfig YAML whose current context may read `/openapi/v2`
 */
export async function writeKubeconformSchemas(
  kubeconfig: string,
  dir: string,
): Promise<KubeconformSchemas> {
  const document = (await fetchOpenApiV2(kubeconfig)) as { definitions?: Record<string, Schema> };
  const definitions = document.definitions;
  if (!definitions) throw new Error('the API server answered /openapi/v2 without definitions');
  mkdirSync(dir, { recursive: true });

  // A definition of one kind wins over a shared one (DeleteOptions, WatchEvent list every group).
  const chosen = new Map<string, { name: string; gvk: GroupVersionKind; shared: boolean }>();
  for (const [name, definition] of Object.entries(definitions)) {
    const gvks = (definition['x-kubernetes-group-version-kind'] ?? []) as GroupVersionKind[];
    for (const gvk of gvks) {
      const file = `${gvk.kind.toLowerCase()}${kindSuffix(gvk)}.json`;
      const shared = gvks.length > 1;
      const current = chosen.get(file);
      if (!current || (current.shared && !shared)) chosen.set(file, { name, gvk, shared });
    }
  }

  const converted = new Map<string, Schema>();
  const convert = (name: string): Schema => {
    let schema = converted.get(name);
    if (!schema) {
      const definition = definitions[name];
      if (!definition) throw new Error(`the OpenAPI document refers to a missing "${name}"`);
      schema = strict(definition) as Schema;
      converted.set(name, schema);
    }
    return schema;
  };

  const files: string[] = [];
  for (const [file, { name, gvk }] of chosen) {
    const root = structuredClone(convert(name));
    const properties = root['properties'] as Record<string, Schema> | undefined;
    if (properties?.['kind']) properties['kind'] = { ...properties['kind'], enum: [gvk.kind] };
    if (properties?.['apiVersion']) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      properties['apiVersion'] = { ...properties['apiVersion'], enum: [apiVersion] };
    }
    const referenced: Record<string, Schema> = {};
    const pending = [...refsOf(root)];
    while (pending.length > 0) {
      const ref = pending.pop() as string;
      if (ref in referenced) continue;
      referenced[ref] = convert(ref);
      pending.push(...refsOf(referenced[ref]));
    }
    writeFileSync(join(dir, file), JSON.stringify({ ...root, definitions: referenced }));
    files.push(file);
  }
  return { dir, location: `${dir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`, files };
}

/** kubeconform's KindSuffix: `-<group up to its first dot>-<version>`, or `-<version>` for core. */
function kindSuffix({ group, version }: GroupVersionKind): string {
  const prefix = group ? `-${group.split('.')[0].toLowerCase()}` : '';
  return `${prefix}-${version.toLowerCase()}`;
}

/** The openapi2jsonschema `--strict` transforms, on a copy. */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const schema = node as Schema;
  if (schema['format'] === 'int-or-string') {
    return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  const copy: Schema = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = strict(value);
  if ('properties' in copy && !('additionalProperties' in copy)) {
    copy['additionalProperties'] = false;
  }
  return copy;
}

/** Names of the definitions a schema refers to (`#/definitions/<name>`). */
function refsOf(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) refsOf(item, found);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(DEFINITION_REF)) {
        found.add(value.slice(DEFINITION_REF.length));
      } else {
        refsOf(value, found);
      }
    }
  }
  return found;
}

/** GET /openapi/v2 as JSON with the kubeconfig's credentials (e.g. the admin's client cert). */
async function fetchOpenApiV2(kubeconfig: string): Promise<unknown> {
  const config = new KubeConfig();
  config.loadFromString(kubeconfig);
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const options: RequestOptions = {};
  await config.applyToHTTPSOptions(options);
  const url = new URL('/openapi/v2', cluster.server);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        headers: { ...options.headers, Accept: 'application/json' },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}: ${body.slice(0, 500)}`));
            return;
          }
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url.href}: no answer within 30 s`)));
    req.on('error', reject);
    req.end();
  });
}
