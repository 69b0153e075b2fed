/** Test-only: small valid projects the specs start from and then break one thing at a time. */

export const PROTO = `syntax = "proto3";
package entrypoint;

message Request { string text = 1; }
message Response { string label = 1; }

service Entrypoint {
  rpc Classify (Request) returns (Response);
  rpc Train (Request) returns (Response);
}
`;

export const V2_MANIFEST = `krtVersion: v2
version: demo-v1
description: A small branched KRT.
entrypoint:
  proto: public_input.proto
  image: kre/entrypoint:latest
config:
  variables:
    - API_KEY
  files:
    - MODEL_CONFIG
workflows:
  - name: classify
    entrypoint: Classify
    exitpoint: exit
    nodes:
      - name: etl
        image: kre/runner-node:latest
        src: src/etl.js
        subscriptions: [entrypoint]
      - name: model
        image: kre/runner-node:latest
        src: src/model.js
        replicas: 2
        subscriptions: [etl]
      - name: alerts
        image: kre/runner-node:latest
        src: src/alerts.js
        subscriptions: [model.alerts]
      - name: exit
        image: kre/runner-node:latest
        src: src/exit.js
        subscriptions: [model, alerts]
  - name: train
    entrypoint: Train
    exitpoint: trainer
    nodes:
      - name: trainer
        image: kre/runner-node:latest
        src: src/train.js
        gpu: true
        objectStore:
          name: models
          scope: project
        subscriptions: [entrypoint]
`;

export const V1_MANIFEST = `version: my-project-v1
description: This is the new version that solves some problems.
entrypoint:
  proto: public_input.proto
  image: konstellation/kre-runtime-entrypoint:latest

config:
  variables:
    - API_KEY
    - API_SECRET
  files:
    - HTTPS_CERT

nodes:
  - name: ETL
    image: konstellation/kre-py:latest
    src: src/etl/execute_etl.py

  - name: Execute DL Model
    image: konstellation/kre-py:latest
    src: src/execute_model/execute_model.py

  - name: Create Output
    image: konstellation/kre-py:latest
    src: src/output/output.py

  - name: Client Metrics
    image: konstellation/kre-py:latest
    src: src/client_metrics/client_metrics.py

workflows:
  - name: New prediction
    entrypoint: MakePrediction
    sequential:
      - ETL
      - Execute DL Model
      - Create Output
  - name: Save Client Metrics
    entrypoint: SaveClientMetric
    sequential:
      - Client Metrics
`;

export const V1_PROTO = `syntax = "proto3";
package entrypoint;

message Request { string input = 1; }
message Response { string output = 1; }

service Entrypoint {
  rpc MakePrediction (Request) returns (Response) {};
  rpc SaveClientMetric (Request) returns (Response) {};
}
`;

const HANDLER = 'export async function handler(ctx, data) {\n  return data;\n}\n';

/** A valid v2 project: manifest, proto and every handler. */
export function v2Files(manifest = V2_MANIFEST): Record<string, string> {
  return {
    'kre.yaml': manifest,
    'public_input.proto': PROTO,
    'src/etl.js': HANDLER,
    'src/model.js': HANDLER,
    'src/alerts.js': HANDLER,
    'src/exit.js': HANDLER,
    'src/train.js': HANDLER,
  };
}

/** The seed's v1 project (KRE's README `kre.yaml`), with its Python sources. */
export function v1Files(manifest = V1_MANIFEST): Record<string, string> {
  return {
    'kre.yaml': manifest,
    'public_input.proto': V1_PROTO,
    'src/etl/execute_etl.py': 'def handler(ctx, data):\n    return data\n',
    'src/execute_model/execute_model.py': 'def handler(ctx, data):\n    return data\n',
    'src/output/output.py': 'def handler(ctx, data):\n    return data\n',
    'src/client_metrics/client_metrics.py': 'def handler(ctx, data):\n    return data\n',
  };
}

/**
 * The v2 fixture with one more key (YAML flow mapping) on its `model` node, e.g.
 * `withModelNode('batch', '{maxSize: 8, maxLatencyMs: 5}')`.
 */
export function withModelNode(key: string, value: string): Record<string, string> {
  const manifest = V2_MANIFEST.replace(
    '        replicas: 2\n',
    `        replicas: 2\n        ${key}: ${value}\n`,
  );
  if (manifest === V2_MANIFEST) throw new Error('the fixture changed: no "replicas: 2" line');
  return v2Files(manifest);
}
