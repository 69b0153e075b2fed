import type { Configuration, DataClient, NodeObjectStore } from './context.services.js';

/*
 * The contracts between a node's code and the runner (docs/data-plane.md, "Handler API"), in one
 * place that needs only the context services' types: the loader, the context factory and the
 * message scope build on it, none on each other.
 */

export type HandlerLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** `ctx.logger`: structured records on the runtime's log subject (and a line on stdout). */
export type HandlerLogger = Record<
  HandlerLogLevel,
  (message: string, fields?: Record<string, unknown>) => void
>;

export interface SendOptions {
  /** Publish on `<output>.<channel>` (subscribers declare `<node>.<channel>`). */
  channel?: string;
  /** Encode as this message type of the version's protos (proto3 JSON value) instead of Struct. */
  type?: string;
}

export interface PredictionSaveInput {
  predictedValue?: string;
  trueValue?: string;
  /** KRE's error kinds; without one, both values are required. */
  error?: 'missing_values' | 'new_labels';
  extra?: Record<string, unknown>;
  date?: Date;
}

/**
 * What a handler receives (docs/data-plane.md, "Handler API"). One object per message; `init`
 * gets one without a request (`requestId` undefined, the send methods refuse).
 */
export interface HandlerContext {
  readonly requestId: string | undefined;
  /** The node (or `entrypoint`) the message came from. */
  readonly fromNode: string | undefined;
  readonly runtimeId: string;
  readonly version: string;
  readonly workflow: string;
  /** The node's id (slug) and its name as written in the manifest. */
  readonly nodeId: string;
  readonly nodeName: string;
  /** Aborted when the handler times out: long work should check it (the runner cannot stop it). */
  readonly signal: AbortSignal;
  isMessageOk(): boolean;
  isMessageError(): boolean;
  isMessageEarlyReply(): boolean;
  isMessageEarlyExit(): boolean;
  readonly logger: HandlerLogger;
  /** The version's config values (frozen), plus `config.get(key)`. */
  readonly config: Readonly<Record<string, string>> & { get(key: string): string | undefined };
  readonly configuration: Configuration;
  readonly objectStore: NodeObjectStore;
  readonly prediction: { save(input: PredictionSaveInput): Promise<void> };
  readonly measurement: {
    save(
      name: string,
      fields: Record<string, number | boolean | string>,
      tags?: Record<string, string>,
      time?: Date,
    ): Promise<void>;
  };
  readonly db: Pick<DataClient, 'save' | 'find'>;
  /** The absolute path of a file of the KRT. */
  path(rel: string): string;
  /** Sends `value` on the node's output once the handler returns successfully. */
  sendOutput(value: unknown, options?: SendOptions): Promise<void>;
  /** Answers the client now; the node's normal output still flows on. */
  sendEarlyReply(value: unknown, options?: Omit<SendOptions, 'channel'>): Promise<void>;
  /** Answers the client now; nothing further flows for this request from this node. */
  sendEarlyExit(value: unknown, options?: Omit<SendOptions, 'channel'>): Promise<void>;
}

/** What a context sends through; the runner implements it per message. */
export interface MessageSink {
  output(value: unknown, options: SendOptions): void;
  earlyReply(value: unknown, type?: string): void;
  earlyExit(value: unknown, type?: string): void;
}

export type Handler = (ctx: HandlerContext, data: unknown) => unknown;

/** One message of a batch: its own context (its request, its sends) and its data. */
export interface BatchItem {
  readonly ctx: HandlerContext;
  readonly data: unknown;
}

/**
 * `handlerBatch(ctx, items)` (KRT `batch`; docs/krt.md, "Batching"): `ctx` is the batch's (no
 * request: logger, config, stores); returns one result per item, in order (`undefined` for no
 * output, an `Error` to fail that item alone), or nothing when it sent through each item's ctx.
 */
export type BatchHandler = (ctx: HandlerContext, items: readonly BatchItem[]) => unknown;

/** What a node's JavaScript module provides. */
export interface HandlerModule {
  init?: (ctx: HandlerContext) => unknown;
  /** Messages from any node without an entry in `handlers`. */
  handler?: Handler;
  /** Per input node: `{ [fromNode]: handler }`. */
  handlers: Readonly<Record<string, Handler>>;
  /** Messages without an entry in `handlers`, several per call (the node's KRT `batch`). */
  handlerBatch?: BatchHandler;
}
