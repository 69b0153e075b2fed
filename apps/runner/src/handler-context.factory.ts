import { resolveInsideKrt } from '@libs/config';
import { type JsonValue, MessageType, toJsonValue } from '@libs/messaging/workload';
import type { Configuration, DataClient, NodeObjectStore } from './context.services.js';
import type {
  HandlerContext,
  HandlerLogLevel,
  HandlerLogger,
  MessageSink,
  PredictionSaveInput,
} from './handler.model.js';
import type { ObsPublisher } from './obs.publisher.js';
import { runAsRunner } from './stdio.capture.js';

/** Everything contexts share within one runner process. */
export interface ContextDeps {
  runtimeId: string;
  version: string;
  workflow: string;
  nodeId: string;
  nodeName: string;
  basePath: string;
  /** From `frozenConfig`. */
  config: Readonly<Record<string, string>> & { get(key: string): string | undefined };
  obs: ObsPublisher;
  configuration: Configuration;
  objectStore: NodeObjectStore;
  db: DataClient;
}

/** The per-message part of a context. */
export interface MessageInfo {
  requestId: string;
  fromNode: string;
  messageType: MessageType;
  signal: AbortSignal;
  sink: MessageSink;
}

/** `ctx.config`: frozen values plus a non-enumerable `get`. */
export function frozenConfig(values: Record<string, string>) {
  const copy = { ...values };
  Object.defineProperty(copy, 'get', { value: (key: string) => values[key], enumerable: false });
  return Object.freeze(copy) as Readonly<Record<string, string>> & {
    get(key: string): string | undefined;
  };
}

const PREDICTION_ERRORS = { missing_values: 'MISSING_VALUES', new_labels: 'NEW_LABELS' } as const;

function jsonFields(
  fields: Record<string, unknown> | undefined,
): Record<string, JsonValue> | undefined {
  if (fields === undefined) return undefined;
  const json = toJsonValue(fields, 'fields');
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new TypeError('logger fields must be an object');
  return json;
}

function makeLogger(deps: ContextDeps, requestId: string | undefined): HandlerLogger {
  const log = (level: HandlerLogLevel) => (message: string, fields?: Record<string, unknown>) =>
    runAsRunner(() => {
      const text = typeof message === 'string' ? message : String(message);
      let json: Record<string, JsonValue> | undefined;
      try {
        json = jsonFields(fields);
      } catch (error) {
        json = { fieldsError: error instanceof Error ? error.message : String(error) };
      }
      // Queued: the record and its stdout line go out after the handler's current turn.
      deps.obs.log(level.toUpperCase() as 'INFO', text, {
        source: 'LOGGER',
        requestId,
        fields: json,
        echo: { node: deps.nodeId, level },
      });
    });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A send that failed (value not encodable, too large) rejects; it never throws synchronously. */
function attempt(send: () => void): Promise<void> {
  try {
    send();
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

const notInInit = (what: string) => () =>
  Promise.reject(
    new Error(
      `${what} is only available while handling a message, not in init() nor on handlerBatch's own ctx (send through each item's ctx)`,
    ),
  );

/** Builds the context of one message (or of `init` when `message` is absent). */
export function createContext(deps: ContextDeps, message?: MessageInfo): HandlerContext {
  const type = message?.messageType;
  const requestId = message?.requestId;
  const sink = message?.sink;
  return {
    requestId,
    fromNode: message?.fromNode,
    runtimeId: deps.runtimeId,
    version: deps.version,
    workflow: deps.workflow,
    nodeId: deps.nodeId,
    nodeName: deps.nodeName,
    signal: message?.signal ?? new AbortController().signal,
    isMessageOk: () => type === MessageType.OK,
    isMessageError: () => type === MessageType.ERROR,
    isMessageEarlyReply: () => type === MessageType.EARLY_REPLY,
    isMessageEarlyExit: () => type === MessageType.EARLY_EXIT,
    logger: makeLogger(deps, requestId),
    config: deps.config,
    configuration: deps.configuration,
    objectStore: deps.objectStore,
    prediction: {
      save: (input: PredictionSaveInput) => {
        if (input?.error !== undefined && !(input.error in PREDICTION_ERRORS))
          return Promise.reject(
            new TypeError('prediction error must be "missing_values" or "new_labels"'),
          );
        const extra = input?.extra === undefined ? undefined : toJsonValue(input.extra, 'extra');
        return deps.obs.prediction({
          time: input?.date ?? new Date(),
          ...(requestId ? { requestId } : {}),
          predictedValue: input?.predictedValue,
          trueValue: input?.trueValue,
          ...(input?.error ? { error: PREDICTION_ERRORS[input.error] } : {}),
          ...(extra ? { extra: extra as Record<string, JsonValue> } : {}),
        });
      },
    },
    measurement: {
      save: (name, fields, tags, time) =>
        deps.obs.measurement({
          time: time ?? new Date(),
          ...(requestId ? { requestId } : {}),
          name,
          fields,
          ...(tags ? { tags } : {}),
        }),
    },
    db: deps.db,
    path: (rel: string) => resolveInsideKrt(deps.basePath, rel, 'path'),
    sendOutput: sink
      ? (value, options = {}) => attempt(() => sink.output(value, options))
      : notInInit('sendOutput'),
    sendEarlyReply: sink
      ? (value, options = {}) => attempt(() => sink.earlyReply(value, options.type))
      : notInInit('sendEarlyReply'),
    sendEarlyExit: sink
      ? (value, options = {}) => attempt(() => sink.earlyExit(value, options.type))
      : notInInit('sendEarlyExit'),
  };
}
