import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigMasker, resolveInsideKrt, workloadConfigValues } from '@libs/config';
import {
  JetStreamPublisher,
  PayloadCodec,
  loadProtoRoot,
  payloadLimit,
} from '@libs/messaging/workload';
import { Configuration, DataClient, NodeObjectStore } from './context.services.js';
import { type ContextDeps, frozenConfig } from './handler-context.factory.js';
import type { HandlerModule } from './handler.model.js';
import type { ScopeDeps } from './message.scope.js';
import { NodeRunner } from './node-runner.service.js';
import { ObsPublisher } from './obs.publisher.js';
import type { RunnerEnv } from './runner.env.js';
import { Semaphore } from './in-flight.semaphore.js';
import { batchSettingsOf, inFlightBound } from './message.batcher.js';
import { type CaptureChannel, maskOutput, writeRawStdout } from './stdio.capture.js';
import { StreamInterestTracker } from './stream-interest.tracker.js';

/** What the runner takes from its host: the NATS connection and the node's loaded code. */
export interface RunnerDeps {
  nc: NatsConnection;
  handlerModule: HandlerModule;
  /** The channel the module was loaded with: what the node's code prints. */
  capture: CaptureChannel;
}

/**
 * The runner's composition root: every object of one node replica, and what each depends on.
 * Nothing runs yet (`NodeRunner.start()` runs `init` and binds the consumers); the host decides
 * when (runner.command.ts, through @libs/workload's host).
 * @throws Error when the version's proto (KRT_ENTRYPOINT_PROTO) cannot be loaded, or the KRT
 * sets `batch` for a module without `handlerBatch`.
 */
export function composeRunner(
  env: RunnerEnv,
  { nc, handlerModule, capture }: RunnerDeps,
): NodeRunner {
  const batch = batchSettingsOf(env, handlerModule);
  // No account-wide call ($JS.API.INFO): a workload's identity may not make one.
  const js = jetstream(nc, { checkAPI: false });
  const codec = new PayloadCodec(
    env.KRT_ENTRYPOINT_PROTO ? loadProtos(env.KRT_BASE_PATH, env.KRT_ENTRYPOINT_PROTO) : undefined,
  );
  const config = workloadConfigValues(env.KRT_CONFIG_KEYS);
  // The version's config never leaves in clear: not in records, not on stdout or stderr.
  const masker = ConfigMasker.ofWorkload(config, env.KRT_CONFIG_FILES_DIR);
  maskOutput(masker);
  const obs = new ObsPublisher(
    nc,
    js,
    env.KRT_NATS_OBS_PREFIX,
    {
      runtimeId: env.KRT_RUNTIME_ID,
      version: env.KRT_VERSION,
      workflow: env.KRT_WORKFLOW_NAME,
      node: env.KRT_NODE_ID,
      replica: `${hostname()}-${process.pid}`,
    },
    undefined,
    masker,
    writeRawStdout,
  );
  const context: ContextDeps = {
    runtimeId: env.KRT_RUNTIME_ID,
    version: env.KRT_VERSION,
    workflow: env.KRT_WORKFLOW_NAME,
    nodeId: env.KRT_NODE_ID,
    nodeName: env.KRT_NODE_NAME,
    basePath: env.KRT_BASE_PATH,
    config: frozenConfig(config),
    obs,
    configuration: new Configuration(js, {
      node: env.KRT_NATS_KEY_VALUE_STORE_NODE,
      workflow: env.KRT_NATS_KEY_VALUE_STORE_WORKFLOW,
      project: env.KRT_NATS_KEY_VALUE_STORE_PROJECT,
    }),
    objectStore: new NodeObjectStore(js, env.KRT_NATS_OBJECT_STORE),
    db: new DataClient(nc, env.KRT_NATS_DATA_PREFIX),
  };
  const interest = new StreamInterestTracker(nc, env.KRT_NATS_STREAM);
  const scope: ScopeDeps = {
    nc,
    publisher: new JetStreamPublisher(nc),
    codec,
    nodeId: env.KRT_NODE_ID,
    output: env.KRT_NATS_OUTPUT,
    isExitpoint: env.KRT_IS_EXITPOINT,
    payloadLimit: payloadLimit(nc.info?.max_payload ?? 1024 * 1024),
    hasInterest: (subject) => interest.has(subject),
    mask: (text) => masker.mask(text),
  };
  return new NodeRunner({
    env,
    js,
    handlerModule,
    capture,
    codec,
    obs,
    context,
    scope,
    interest,
    slots: new Semaphore(inFlightBound(env, batch)),
    batch,
  });
}

/** The version's protos, for typed payloads; imports resolve from the proto's folder and the KRT. */
function loadProtos(base: string, rel: string) {
  const file = resolveInsideKrt(base, rel, 'KRT_ENTRYPOINT_PROTO');
  return loadProtoRoot(file, [dirname(file), base]);
}
