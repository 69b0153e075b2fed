/**
 * `@libs/messaging/workload`: what a workload (runner, entrypoint) loads of this library: the
 * data plane and the NATS connection, without Nest or the engine's provisioning and auth code.
 * The full barrel (`@libs/messaging`) loads those too: about 40 MB more per workload process,
 * and a started version runs several (issue #16, density).
 */
export { connectNats, natsCheck, type NatsOptions } from './nats.connection.js';
export {
  HEADER_ROOM,
  InvalidCompressionError,
  PayloadTooLargeError,
  compressToFit,
  decompressIfNeeded,
  isGzip,
  payloadLimit,
} from './data-plane/compression.js';
export {
  DataRequestError,
  decodeDataReply,
  encodeFindRequest,
  encodeSaveRequest,
  validateCollection,
  validateDocument,
  validateLimit,
  validateQuery,
  validateSort,
  type DataReply,
  type FindRequest,
  type JsonObject,
  type SaveRequest,
} from './data-plane/data-requests.js';
export {
  InvalidMessageError,
  MessageType,
  decodeEnvelope,
  encodeEnvelope,
  type KreMessage,
} from './data-plane/envelope.js';
export { KreHeader, PROPAGATED_HEADERS } from './data-plane/headers.js';
export {
  PayloadCodec,
  PayloadError,
  toJsonValue,
  typeNameOf,
  typeUrlOf,
  type AnyMessage,
} from './data-plane/payload.js';
export {
  ProtoJsonError,
  decodeToJson,
  encodeFromJson,
  type JsonValue,
} from './data-plane/proto-json.js';
export { ProtoLoadError, kreProtoDir, loadProtoRoot } from './data-plane/proto-root.js';
export {
  encodeRecord,
  newRecordId,
  type LogLevel,
  type LogSource,
  type MeasurementInput,
  type Origin,
  type PredictionInput,
  type RecordKind,
} from './data-plane/records.js';
export { JetStreamPublisher, PublishError, type PubAck } from './data-plane/jetstream-publisher.js';
export { RpcError, type RpcErrorCode } from './data-plane/rpc.errors.js';
