import { describe, expect, it } from 'vitest';
import { openKrt, type KrtIssue, type KrtOptions } from './index.js';
import { krtFailure } from './testing/krt.expect.js';
import { PROTO, V1_MANIFEST, V2_MANIFEST, v1Files, v2Files } from './testing/krt.fixtures.js';
import { krtBytes, streamOf } from './testing/tar.builder.js';

type Files = Record<string, string>;

async function accept(files: Files, options?: KrtOptions) {
  return (await openKrt(streamOf(krtBytes(files)), options)).krt;
}

async function problems(files: Files, options?: KrtOptions): Promise<KrtIssue[]> {
  return (await krtFailure(openKrt(streamOf(krtBytes(files)), options))).errors;
}

/** Issue without its position, for rules where the message is the point. */
const strip = ({ path, message, severity }: KrtIssue) => ({ path, message, severity });
const error = (path: string, message: string) => ({ path, message, severity: 'error' });
const warning = (path: string, message: string) => ({ path, message, severity: 'warning' });
const REWRITE =
  'rewrite its handler in Python (.py, image konstellation/kre-py or kre/runner-python) or JavaScript (.js, .mjs, .cjs, image kre/runner-node)';

/** A one-workflow v2 manifest with the given node list (YAML, indented for `nodes:`). */
function v2(nodes: string, extra = ''): Files {
  return v2Files(`krtVersion: v2
version: demo-v1
description: demo
entrypoint:
  proto: public_input.proto
  image: kre/entrypoint:latest
workflows:
  - name: classify
    entrypoint: Classify
    exitpoint: exit
    nodes:
${nodes}
  - name: train
    entrypoint: Train
    exitpoint: trainer
    nodes:
      - {name: trainer, image: i, src: src/train.js, subscriptions: [entrypoint]}
${extra}`);
}

const node = (name: string, subs: string, more = '') =>
  `      - {name: ${name}, image: i, src: src/etl.js, subscriptions: [${subs}]${more}}`;

describe('KRT validation: v2', () => {
  it('normalises a valid v2 manifest, with channels, replicas, gpu and object stores', async () => {
    const krt = await accept(v2Files());
    expect(krt.krtVersion).toBe('v2');
    expect(krt.config).toEqual({ variables: ['API_KEY'], files: ['MODEL_CONFIG'] });
    expect(krt.workflows[0]).toMatchObject({
      name: 'classify',
      displayName: 'classify',
      entrypoint: 'Classify',
      exitpoint: 'exit',
    });
    expect(krt.workflows[0].nodes.map((n) => [n.name, n.subscriptions])).toEqual([
      ['etl', [{ node: 'entrypoint' }]],
      ['model', [{ node: 'etl' }]],
      ['alerts', [{ node: 'model', channel: 'alerts' }]],
      ['exit', [{ node: 'model' }, { node: 'alerts' }]],
    ]);
    expect(krt.workflows[0].nodes[1].replicas).toBe(2);
    expect(krt.workflows[1].nodes[0]).toEqual({
      name: 'trainer',
      displayName: 'trainer',
      image: 'kre/runner-node:latest',
      src: 'src/train.js',
      gpu: true,
      replicas: 1,
      subscriptions: [{ node: 'entrypoint' }],
      objectStore: { name: 'models', scope: 'project' },
    });
    expect(krt.rpcs).toEqual(['Classify', 'Train']);
    expect(krt.warnings).toEqual([]);
  });

  it('reports every problem at once, each with its path, line and column', async () => {
    const errors = await problems(
      v2Files(`krtVersion: v2
version: Demo_V1
entrypoint:
  proto: public_input
  image: x
workflows:
  - name: classify
    entrypoint: Classify
    exitpoint: nowhere
    nodes:
      - name: etl
        image: x
        src: src/missing.js
        subscriptions: [entrypoint, ghost]
`),
    );
    expect(errors).toEqual([
      {
        path: 'version',
        message:
          '"Demo_V1" is not a valid version name: use lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (e.g. "my-project-v1")',
        severity: 'error',
        line: 2,
        column: 10,
      },
      {
        path: 'description',
        message: '"description" is required: say in a sentence what this version does',
        severity: 'error',
        line: 1,
        column: 1,
      },
      {
        path: 'entrypoint.proto',
        message: '"public_input" must be a .proto file: end it with .proto',
        severity: 'error',
        line: 4,
        column: 10,
      },
      {
        path: 'workflows[0].nodes[0].src',
        message:
          '"src/missing.js" is not a file in the KRT: add it, or fix the path (relative to the KRT root)',
        severity: 'error',
        line: 13,
        column: 14,
      },
      {
        path: 'workflows[0].nodes[0].subscriptions[1]',
        message: 'no node "ghost" in this workflow: subscribe to one of "etl", "entrypoint"',
        severity: 'error',
        line: 14,
        column: 37,
      },
      {
        path: 'workflows[0].exitpoint',
        message: 'the exitpoint "nowhere" is not a node of this workflow: name one of "etl"',
        severity: 'error',
        line: 9,
        column: 16,
      },
    ]);
  });

  it.each([
    ['uppercase', 'Etl', 'is not a valid node name'],
    ['a double hyphen', 'my--node', 'is not a valid node name'],
    ['a trailing hyphen', 'etl-', 'is not a valid node name'],
    ['a leading digit', '1etl', 'is not a valid node name'],
  ])('refuses node names with %s', async (_, name, fragment) => {
    const errors = await problems(v2(`${node(name, 'entrypoint')}\n${node('exit', name)}`));
    expect(errors[0]).toMatchObject({ path: 'workflows[0].nodes[0].name' });
    expect(errors[0].message).toContain(fragment);
  });

  it('refuses a node named entrypoint', async () => {
    const errors = await problems(
      v2(`${node('entrypoint', 'entrypoint')}\n${node('exit', 'entrypoint')}`),
    );
    expect(errors.map(strip)).toEqual([
      error(
        'workflows[0].nodes[0].name',
        '"entrypoint" names the workflow\'s input, so no node may be called "entrypoint": rename the node',
      ),
    ]);
  });

  it('refuses duplicate workflow names, entrypoints and node names', async () => {
    const errors = await problems(
      v2Files(`krtVersion: v2
version: demo-v1
description: demo
entrypoint: {proto: public_input.proto, image: x}
workflows:
  - name: classify
    entrypoint: Classify
    exitpoint: a
    nodes:
      - {name: a, image: i, src: src/etl.js, subscriptions: [entrypoint]}
      - {name: a, image: i, src: src/etl.js, subscriptions: [entrypoint]}
  - name: classify
    entrypoint: Classify
    exitpoint: b
    nodes:
      - {name: b, image: i, src: src/etl.js, subscriptions: [entrypoint]}
`),
    );
    expect(errors.map(strip)).toEqual([
      error(
        'workflows[0].nodes[1].name',
        'the node name "a" is already used at workflows[0].nodes[0]: node names must be unique in a workflow',
      ),
      error(
        'workflows[1].name',
        'the workflow name "classify" is already used at workflows[0]: workflow names must be unique',
      ),
      error(
        'workflows[1].entrypoint',
        'the rpc "Classify" already starts workflows[0]: give each workflow its own rpc',
      ),
      warning(
        'entrypoint.proto',
        'the rpc "Train" of service Entrypoint starts no workflow: calls to it will fail',
      ),
    ]);
  });

  it('refuses cycles, self-subscriptions and nodes the entrypoint never reaches', async () => {
    const errors = await problems(
      v2(
        [
          node('etl', 'entrypoint'),
          node('a', 'c'),
          node('b', 'a'),
          node('c', 'b'),
          node('selfish', 'selfish, etl'),
          node('exit', 'etl, c'),
        ].join('\n'),
      ),
    );
    expect(errors.map(strip)).toEqual([
      error(
        'workflows[0].nodes[4].subscriptions[0]',
        'the node "selfish" subscribes to itself: subscribe it to another node or to entrypoint',
      ),
      error(
        'workflows[0].nodes[1].name',
        'the nodes "a" → "b" → "c" → "a" form a cycle: messages must flow from the entrypoint to the exitpoint without looping',
      ),
      error(
        'workflows[0].nodes[1].name',
        'the node "a" is never reached from the entrypoint: subscribe it to entrypoint or to a node that is reached',
      ),
      error(
        'workflows[0].nodes[2].name',
        'the node "b" is never reached from the entrypoint: subscribe it to entrypoint or to a node that is reached',
      ),
      error(
        'workflows[0].nodes[3].name',
        'the node "c" is never reached from the entrypoint: subscribe it to entrypoint or to a node that is reached',
      ),
      warning(
        'workflows[0].nodes[4].name',
        'the node "selfish" does not lead to the exitpoint "exit": its outputs never reach the caller (fine for a node that only stores or notifies)',
      ),
    ]);
  });

  it('accepts a side-effect node that does not lead to the exitpoint, with a warning (KRE classificator)', async () => {
    const krt = await accept(
      v2(
        [
          node('etl', 'entrypoint'),
          node('email-classificator', 'etl'),
          node('repairs-handler', 'email-classificator.repairs'),
          node('stats-storer', 'email-classificator'),
          node('exit', 'etl, stats-storer'),
        ].join('\n'),
      ),
    );
    expect(krt.warnings.map(strip)).toEqual([
      warning(
        'workflows[0].nodes[2].name',
        'the node "repairs-handler" does not lead to the exitpoint "exit": its outputs never reach the caller (fine for a node that only stores or notifies)',
      ),
    ]);
  });

  it('checks subscriptions, replicas, gpu and object stores field by field', async () => {
    const errors = await problems(
      v2(
        [
          node('etl', 'entrypoint, entrypoint, entrypoint.x, etl.Bad, a.b.c, 3', ', replicas: 0'),
          node('m1', 'etl', ', replicas: 65, gpu: "yes"'),
          node('m2', 'etl', ', replicas: 1.5, objectStore: {name: Store, scope: cluster}'),
          node('m3', 'etl', ', objectStore: {name: cache}'),
          node('exit', 'm1, m2, m3'),
          '      - {name: lonely, image: i, src: src/etl.js}',
        ].join('\n'),
      ),
    );
    expect(errors.map(strip)).toEqual([
      warning(
        'workflows[0].nodes[0].replicas',
        '"replicas: 0" runs 1 replica (as KRE did): write 1, or remove the field',
      ),
      error(
        'workflows[0].nodes[0].subscriptions[1]',
        'the subscription "entrypoint" is listed twice: keep one',
      ),
      error(
        'workflows[0].nodes[0].subscriptions[2]',
        'the entrypoint has no channels: subscribe to "entrypoint"',
      ),
      error(
        'workflows[0].nodes[0].subscriptions[3]',
        '"Bad" is not a valid channel name: use lowercase letters, digits and single hyphens, starting with a letter',
      ),
      error(
        'workflows[0].nodes[0].subscriptions[4]',
        '"a.b.c" is not a subscription: write "entrypoint", "<node>" or "<node>.<channel>"',
      ),
      error(
        'workflows[0].nodes[0].subscriptions[5]',
        'a subscription must be "entrypoint", "<node>" or "<node>.<channel>", not 3',
      ),
      error('workflows[0].nodes[1].gpu', '"gpu" must be true or false, not a string'),
      error('workflows[0].nodes[1].replicas', '"replicas" is 65; the most allowed is 64: lower it'),
      error(
        'workflows[0].nodes[2].replicas',
        '"replicas" must be a whole number from 1 to 64, not 1.5',
      ),
      error(
        'workflows[0].nodes[2].objectStore.name',
        '"Store" is not a valid object store name: use lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (e.g. "my-object")',
      ),
      error(
        'workflows[0].nodes[2].objectStore.scope',
        'the object store scope must be "workflow" or "project", not "cluster"',
      ),
      error(
        'workflows[0].nodes[5].subscriptions',
        '"subscriptions" is required: subscribe the node to entrypoint, to another node, or to <node>.<channel>',
      ),
      error(
        'workflows[0].nodes[5].name',
        'the node "lonely" is never reached from the entrypoint: subscribe it to entrypoint or to a node that is reached',
      ),
    ]);
  });

  it('defaults the object store scope to workflow, as KRE did', async () => {
    const krt = await accept(
      v2(
        [node('etl', 'entrypoint', ', objectStore: {name: cache}'), node('exit', 'etl')].join('\n'),
      ),
    );
    expect(krt.workflows[0].nodes[0].objectStore).toEqual({ name: 'cache', scope: 'workflow' });
  });

  it('checks config keys: format, duplicates and the workload environment', async () => {
    const manifest = V2_MANIFEST.replace(
      'config:\n  variables:\n    - API_KEY\n  files:\n    - MODEL_CONFIG\n',
      'config:\n  variables: [API_KEY, api_key, _X, KRT_NATS_SERVER, PATH, HOME, NODE_OPTIONS, PYTHONPATH, LD_PRELOAD, 42]\n  files: [API_KEY, TLS_CERT]\n',
    );
    const errors = await problems(v2Files(manifest));
    const envFix = "would override the workload's own environment";
    expect(errors.map(strip)).toEqual([
      error(
        'config.variables[1]',
        '"api_key" is not a valid config key: use upper-case letters, digits and underscores, not starting or ending with "_" (e.g. API_KEY)',
      ),
      error(
        'config.variables[2]',
        '"_X" is not a valid config key: use upper-case letters, digits and underscores, not starting or ending with "_" (e.g. API_KEY)',
      ),
      error(
        'config.variables[3]',
        `"KRT_NATS_SERVER" ${envFix} (KRT_* is the engine’s): choose another name`,
      ),
      error('config.variables[4]', `"PATH" ${envFix} (the process needs it): choose another name`),
      error('config.variables[5]', `"HOME" ${envFix} (the process needs it): choose another name`),
      error(
        'config.variables[6]',
        `"NODE_OPTIONS" ${envFix} (NODE_* configures Node.js): choose another name`,
      ),
      error(
        'config.variables[7]',
        `"PYTHONPATH" ${envFix} (PYTHON* configures Python): choose another name`,
      ),
      error(
        'config.variables[8]',
        `"LD_PRELOAD" ${envFix} (LD_* configures the dynamic linker): choose another name`,
      ),
      error('config.variables[9]', 'a config key must be a string, not 42'),
      error(
        'config.files[0]',
        'the config key "API_KEY" is already declared at config.variables[0]: keep one',
      ),
    ]);
  });

  it('checks every src: inside the KRT, a file, and runnable', async () => {
    const files = {
      ...v2(
        [
          node('etl', 'entrypoint'),
          '      - {name: a, image: i, src: ../etc/passwd, subscriptions: [etl]}',
          '      - {name: b, image: i, src: src, subscriptions: [etl]}',
          '      - {name: c, image: i, src: ./bin/model, subscriptions: [etl]}',
          node('exit', 'a, b, c'),
        ].join('\n'),
      ),
      'bin/model': 'ELF',
    };
    const errors = await problems(files);
    expect(errors.map(strip)).toEqual([
      error(
        'workflows[0].nodes[1].src',
        '"../etc/passwd" is not a usable path: the path goes up with "..": keep every path inside the KRT',
      ),
      error(
        'workflows[0].nodes[2].src',
        '"src" is a folder: point src at the handler file inside it',
      ),
      error(
        'workflows[0].nodes[3].src',
        `the node "c" runs "bin/model", which is neither JavaScript (.js, .mjs, .cjs) nor Python (.py): compiled (Go) nodes are not supported; ${REWRITE}`,
      ),
    ]);
  });

  it("refuses KRE's compiled Go nodes and a Python image running JavaScript, naming the node", async () => {
    const files = {
      ...v2(
        [
          node('etl', 'entrypoint'),
          '      - {name: go, image: "konstellation/kre-go:v2.1.0", src: bin/go-node, subscriptions: [etl]}',
          '      - {name: py, image: konstellation/kre-py:v3.4.1, src: src/etl.js, subscriptions: [etl]}',
          '      - {name: ok, image: konstellation/kre-py:v3.4.1, src: src/ok.py, subscriptions: [etl]}',
          node('exit', 'go, py, ok'),
        ].join('\n'),
      ),
      'bin/go-node': 'ELF',
      'src/ok.py': 'async def default_handler(ctx, data): pass\n',
    };
    expect((await problems(files)).map(strip)).toEqual([
      error(
        'workflows[0].nodes[1].image',
        `the node "go" uses KRE's Go runner ("konstellation/kre-go:v2.1.0"), which this engine does not run (compiled Go nodes are not supported): ${REWRITE}`,
      ),
      error(
        'workflows[0].nodes[2].src',
        'the node "py" uses the Python runner image "konstellation/kre-py" but its src "src/etl.js" is not a Python file: point src at a .py file, or use image kre/runner-node for JavaScript',
      ),
    ]);
  });

  it('accepts empty sections as KRE did (config: with an empty variables:, ~, Null)', async () => {
    const manifest = V2_MANIFEST.replace(
      /config:\n {2}variables:\n {4}- API_KEY\n {2}files:\n {4}- MODEL_CONFIG\n/,
      'config:\n  variables:\n  files: ~\n',
    ).replace('        gpu: true\n', '        gpu: true\n        replicas: Null\n');
    expect(manifest).toContain('variables:\n  files: ~');
    const krt = await accept(v2Files(manifest));
    expect(krt.config).toEqual({ variables: [], files: [] });
    expect(krt.workflows[1].nodes[0].replicas).toBe(1);
    const bare = await accept(v2Files(V2_MANIFEST.replace(/config:\n( {2}.*\n)+/, 'config:\n')));
    expect(bare.config).toEqual({ variables: [], files: [] });
    // Quoted, it stays a string: "" is not a list.
    const quoted = V2_MANIFEST.replace(/config:\n( {2}.*\n)+/, 'config:\n  variables: ""\n');
    expect((await problems(v2Files(quoted))).map((i) => i.message)).toEqual([
      '"variables" must be a list, not a string: list the variable names, e.g. [API_KEY]',
    ]);
  });

  it('warns about unknown fields instead of ignoring them silently', async () => {
    const manifest = V2_MANIFEST.replace(
      'description:',
      'descripton: typo\nlabels: [a]\ndescription:',
    );
    const krt = await accept(v2Files(manifest));
    expect(krt.warnings).toEqual([
      {
        path: 'descripton',
        message:
          'unknown field "descripton" is ignored: remove it or fix its spelling (known: krtVersion, version, description, entrypoint, config, workflows)',
        severity: 'warning',
        line: 3,
        column: 1,
      },
      {
        path: 'labels',
        message:
          'unknown field "labels" is ignored: remove it or fix its spelling (known: krtVersion, version, description, entrypoint, config, workflows)',
        severity: 'warning',
        line: 4,
        column: 1,
      },
    ]);
  });

  it('refuses an unknown krtVersion', async () => {
    const errors = await problems(v2Files(V2_MANIFEST.replace('krtVersion: v2', 'krtVersion: v3')));
    expect(errors.map(strip)).toEqual([
      error(
        'krtVersion',
        'krtVersion must be "v2" (branched workflows) or absent/"v1" (sequential workflows), not "v3"',
      ),
    ]);
  });

  it('refuses the v1 fields in a v2 manifest', async () => {
    const errors = await problems(
      v2Files(
        V2_MANIFEST.replace(
          '    exitpoint: exit\n',
          '    exitpoint: exit\n    sequential: [etl]\n',
        ) + 'nodes: []\n',
      ),
    );
    expect(errors.map(strip)).toEqual([
      error(
        'nodes',
        'top-level "nodes" is the v1 form: with krtVersion v2, declare the nodes inside each workflow (or remove krtVersion to use v1)',
      ),
      error(
        'workflows[0].sequential',
        '"sequential" is incompatible with KRT v2: list the nodes with their subscriptions',
      ),
    ]);
  });

  it('checks types of the top-level fields', async () => {
    const errors = await problems(
      v2Files(
        'krtVersion: v2\nversion: 1.0\ndescription: [a]\nentrypoint: public_input.proto\nconfig: {variables: API_KEY}\nworkflows: {}\n',
      ),
    );
    expect(errors.map(strip)).toEqual([
      error(
        'version',
        '"version" must be a string, not a number (quote it): give the version a name such as "my-project-v1"',
      ),
      error(
        'description',
        '"description" must be a string, not a list: say in a sentence what this version does',
      ),
      error('entrypoint', '"entrypoint" must be a mapping of fields, not a string'),
      error(
        'config.variables',
        '"variables" must be a list, not a string: list the variable names, e.g. [API_KEY]',
      ),
      error(
        'workflows',
        '"workflows" must be a list, not a mapping: declare at least one workflow (name, entrypoint, exitpoint, nodes)',
      ),
    ]);
  });
});

describe('KRT validation: the entrypoint proto', () => {
  const withProto = (proto: string, more: Files = {}) => ({
    ...v2Files(),
    'public_input.proto': proto,
    ...more,
  });

  it('refuses a missing proto file', async () => {
    const files = v2Files();
    delete (files as Partial<Files>)['public_input.proto'];
    expect((await problems(files)).map(strip)).toEqual([
      error(
        'entrypoint.proto',
        '"public_input.proto" is not a file in the KRT: add it, or fix the path (relative to the KRT root)',
      ),
    ]);
  });

  it('refuses a proto that does not parse', async () => {
    expect((await problems(withProto('syntax = "proto3";\nmessage {'))).map(strip)).toEqual([
      error(
        'entrypoint.proto',
        "public_input.proto does not parse: illegal type name '{' (line 2)",
      ),
    ]);
  });

  it('refuses a proto without service Entrypoint', async () => {
    expect(
      (
        await problems(
          withProto(
            'syntax = "proto3";\nmessage A {}\nservice Other { rpc Classify (A) returns (A); }',
          ),
        )
      ).map(strip),
    ).toEqual([
      error(
        'entrypoint.proto',
        'public_input.proto declares no "service Entrypoint": add one with an rpc per workflow entrypoint',
      ),
    ]);
  });

  it('refuses a workflow whose rpc is not in service Entrypoint, warns about an unused rpc', async () => {
    const proto = PROTO.replace('rpc Train', 'rpc Retrain');
    expect((await problems(withProto(proto))).map(strip)).toEqual([
      error(
        'workflows[1].entrypoint',
        'service Entrypoint in public_input.proto has no rpc "Train": add it, or use one of its rpcs ("Classify", "Retrain")',
      ),
      warning(
        'entrypoint.proto',
        'the rpc "Retrain" of service Entrypoint starts no workflow: calls to it will fail',
      ),
    ]);
  });

  it('refuses an unknown type', async () => {
    const proto = PROTO.replace('rpc Train (Request)', 'rpc Train (Missing)');
    expect((await problems(withProto(proto))).map(strip)).toEqual([
      error(
        'entrypoint.proto',
        'public_input.proto: no such type: Missing: declare or import that type',
      ),
    ]);
  });

  it('follows imports inside the KRT and the bundled well-known types, never outside', async () => {
    const ok = withProto(
      `syntax = "proto3";\nimport "types/common.proto";\nimport "google/protobuf/struct.proto";\npackage entrypoint;\nservice Entrypoint {\n  rpc Classify (common.Input) returns (google.protobuf.Struct);\n  rpc Train (common.Input) returns (google.protobuf.Struct);\n}\n`,
      {
        'types/common.proto':
          'syntax = "proto3";\npackage common;\nimport "shared.proto";\nmessage Input { shared.Id id = 1; }\n',
        'types/shared.proto': 'syntax = "proto3";\npackage shared;\nmessage Id { string v = 1; }\n',
      },
    );
    expect((await accept(ok)).rpcs).toEqual(['Classify', 'Train']);
    const escaping = withProto(
      `syntax = "proto3";\nimport "../../etc/secret.proto";\n${PROTO.split('\n').slice(1).join('\n')}`,
    );
    expect((await problems(escaping)).map(strip)).toEqual([
      error(
        'entrypoint.proto',
        'public_input.proto imports "../../etc/secret.proto", which cannot be used: the path goes up with "..": keep every path inside the KRT; imports may not leave the KRT',
      ),
    ]);
    const absolute = withProto(
      `syntax = "proto3";\nimport "/etc/secret.proto";\n${PROTO.split('\n').slice(1).join('\n')}`,
    );
    expect((await problems(absolute)).map(strip)).toEqual([
      error(
        'entrypoint.proto',
        'public_input.proto imports "/etc/secret.proto", which cannot be used: absolute paths are not allowed: make the path relative; imports may not leave the KRT',
      ),
    ]);
  });

  it('refuses a proto over its size limit', async () => {
    const errors = await problems(withProto(`${PROTO}//${'x'.repeat(2048)}\n`), {
      limits: { maxProtoBytes: 1024 },
    });
    expect(errors.map(strip)).toEqual([
      error(
        'entrypoint.proto',
        'public_input.proto is 2.2 KiB; the limit is 1 KiB: shrink the proto',
      ),
    ]);
  });
});

describe('KRT validation: derived names', () => {
  it('names the derived name that does not fit, for the configured prefix', async () => {
    const long = `n${'x'.repeat(62)}`;
    const files = v2([node(long, 'entrypoint'), node('exit', long)].join('\n'));
    await expect(accept(files)).resolves.toBeDefined();
    const errors = await problems(files, { prefix: 'k'.repeat(160) });
    expect(errors.map(strip)).toEqual([
      error(
        'workflows[0].nodes[0].name',
        `the NATS subject "${'k'.repeat(160)}.xxxxxxxxxxxxxxx.wf.demo-v1.classify.${long}" would be ${160 + 16 + 4 + 8 + 9 + 63} characters, over its limit of 255 (prefix "${'k'.repeat(160)}" and a runtime id of up to 15 characters): shorten the node name`,
      ),
    ]);
  });

  it('refuses names over the Kubernetes label limit', async () => {
    const long = `n${'x'.repeat(63)}`;
    const errors = await problems(v2([node(long, 'entrypoint'), node('exit', long)].join('\n')), {
      runtimeId: 'demo',
    });
    expect(errors.map(strip)).toEqual([
      error(
        'workflows[0].nodes[0].name',
        `the Kubernetes label kre.io/node "${long}" would be 64 characters, over its limit of 63 (prefix "kre", runtime "demo"): shorten the node name`,
      ),
    ]);
  });
});

describe('KRT validation: v1', () => {
  it("accepts the seed's kre.yaml unchanged, instantiating nodes per workflow", async () => {
    const krt = await accept(v1Files());
    expect(krt.krtVersion).toBe('v1');
    expect(krt.version).toBe('my-project-v1');
    expect(krt.config).toEqual({ variables: ['API_KEY', 'API_SECRET'], files: ['HTTPS_CERT'] });
    expect(krt.workflows.map((w) => [w.name, w.displayName, w.entrypoint, w.exitpoint])).toEqual([
      ['new-prediction', 'New prediction', 'MakePrediction', 'create-output'],
      ['save-client-metrics', 'Save Client Metrics', 'SaveClientMetric', 'client-metrics'],
    ]);
    expect(
      krt.workflows[0].nodes.map((n) => [
        n.name,
        n.displayName,
        n.subscriptions,
        n.replicas,
        n.gpu,
      ]),
    ).toEqual([
      ['etl', 'ETL', [{ node: 'entrypoint' }], 1, false],
      ['execute-dl-model', 'Execute DL Model', [{ node: 'etl' }], 1, false],
      ['create-output', 'Create Output', [{ node: 'execute-dl-model' }], 1, false],
    ]);
    expect(krt.warnings).toEqual([]);
  });

  it('gives each workflow its own copy of a shared node', async () => {
    const manifest = V1_MANIFEST.replace(
      '      - Client Metrics',
      '      - ETL\n      - Client Metrics',
    );
    const krt = await accept(v1Files(manifest));
    const [a, b] = krt.workflows;
    expect(b.nodes.map((n) => [n.name, n.subscriptions])).toEqual([
      ['etl', [{ node: 'entrypoint' }]],
      ['client-metrics', [{ node: 'etl' }]],
    ]);
    expect(a.nodes[0]).not.toBe(b.nodes[0]);
  });

  it('refuses colliding or empty slugs, unknown and repeated sequential names, v2 fields', async () => {
    const errors = await problems(
      v1Files(`version: my-project-v1
description: d
entrypoint: {proto: public_input.proto, image: x}
nodes:
  - {name: ETL, image: x, src: src/etl/execute_etl.py}
  - {name: etl, image: x, src: src/etl/execute_etl.py}
  - {name: "***", image: x, src: src/etl/execute_etl.py}
  - {name: Entrypoint, image: x, src: src/etl/execute_etl.py}
  - {name: Spare, image: x, src: src/etl/execute_etl.py, subscriptions: [ETL]}
workflows:
  - name: New prediction
    entrypoint: MakePrediction
    exitpoint: ETL
    sequential: [ETL, Etl, ETL, Nope]
  - name: new prediction!
    entrypoint: SaveClientMetric
    sequential: []
`),
    );
    expect(errors.map(strip)).toEqual([
      error(
        'nodes[1].name',
        '"etl" and the node at nodes[0] both become "etl" in derived names: rename one',
      ),
      error(
        'nodes[2].name',
        '"***" has no letters or digits, so no node name can be derived from it: rename it',
      ),
      error(
        'nodes[3].name',
        '"Entrypoint" names the workflow\'s input, so no node may be called "entrypoint": rename the node',
      ),
      error(
        'nodes[4].subscriptions',
        '"subscriptions" is incompatible with KRT v1: v1 nodes run in the order of "sequential"; add krtVersion: v2 to use subscriptions and object stores',
      ),
      error(
        'workflows[0].exitpoint',
        '"exitpoint" is incompatible with KRT v1: list the node names under "sequential", or add krtVersion: v2 to use nodes and exitpoint',
      ),
      error('workflows[0].sequential[1]', 'no node is named "Etl": did you mean "ETL"?'),
      error(
        'workflows[0].sequential[2]',
        '"ETL" appears twice in this workflow: a node runs once per workflow',
      ),
      error(
        'workflows[0].sequential[3]',
        'no node is named "Nope": use one of the names under "nodes" ("ETL", "etl", "***", "Entrypoint", "Spare")',
      ),
      error(
        'workflows[1].sequential',
        '"sequential" must not be empty: list the names of the nodes this workflow runs, in order',
      ),
      warning(
        'nodes[4]',
        'the node "Spare" is in no workflow: add it to a workflow\'s "sequential" list or remove it',
      ),
      error(
        'workflows[1].name',
        'the workflow name "new prediction!" is already used at workflows[0] ("New prediction" and "new prediction!" both become "new-prediction"): workflow names must be unique',
      ),
    ]);
  });

  it('tells a v2-shaped manifest without krtVersion how to fix it', async () => {
    const errors = await problems(v2Files(V2_MANIFEST.replace('krtVersion: v2\n', '')));
    expect(errors.map(strip).slice(0, 2)).toEqual([
      error(
        'nodes',
        '"nodes" is required: declare the nodes (name, image, src) that the workflows run, or add krtVersion: v2',
      ),
      error(
        'workflows[0].exitpoint',
        '"exitpoint" is incompatible with KRT v1: list the node names under "sequential", or add krtVersion: v2 to use nodes and exitpoint',
      ),
    ]);
  });
});

describe('KRT validation: bounded reports', () => {
  it('lists at most 200 findings, then says how many more there were', async () => {
    const nodes = Array.from({ length: 5000 }, (_, i) => node(`n${i}`, `ghost${i}`)).join('\n');
    const errors = await problems(v2(nodes));
    expect(errors).toHaveLength(201);
    expect(errors[200]).toEqual({
      path: '',
      message: `${5000 * 2 - 200 + 1} more findings were not listed: fix these first`,
      severity: 'error',
    });
    expect(errors[0].message).toBe(
      'no node "ghost0" in this workflow: subscribe to one of "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9" and 4991 more',
    );
  });
});
