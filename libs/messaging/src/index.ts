export { DeployerClient, DeployerRpcError } from './deployer.client.js';
export {
  deployerRpc,
  deployerStatusRequestSchema,
  deployerStatusSchema,
  deployerSubjects,
  nodeStatusReplySchema,
  nodeStatusRequestSchema,
  workloadReplicaStatusSchema,
  type DeployerStatus,
  type DeployerStatusRequest,
  type DeployerSubjects,
  type NodeStatusReply,
  type NodeStatusRequest,
  type WorkloadReplicaStatus,
} from './deployer-rpc.schema.js';
export { DeployerRpcModule, type DeployerRpcOptions } from './deployer-rpc.module.js';
export {
  InvalidRpcMessageError,
  RpcContract,
  RpcRequestPipe,
  UnreadableRpcMessage,
  rpcReply,
  type RpcErrorPayload,
} from './rpc-contract.js';
export { NatsRpcClient, NatsRpcServer } from './nats-rpc.transport.js';
export {
  NATS_CONNECTION,
  NatsModule,
  connectNats,
  natsCheck,
  type NatsOptions,
} from './nats.module.js';
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
  FIND_DEFAULT_LIMIT,
  FIND_MAX_LIMIT,
  SAFE_QUERY_OPERATORS,
  decodeDataReply,
  decodeFindRequest,
  decodeSaveRequest,
  encodeDataReply,
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
  TYPE_URL_PREFIX,
  toJsonValue,
  typeNameOf,
  typeUrlOf,
  wellKnownTypes,
  type AnyMessage,
} from './data-plane/payload.js';
export {
  ProtoJsonError,
  decodeToJson,
  encodeFromJson,
  jsonName,
  messageFromJson,
  messageToJson,
  type JsonValue,
  type ToJsonOptions,
} from './data-plane/proto-json.js';
export { ProtoLoadError, kreProtoDir, kreProtos, loadProtoRoot } from './data-plane/proto-root.js';
export {
  InvalidRecordError,
  decodeRecord,
  encodeRecord,
  formatRecordId,
  newRecordId,
  RECORD_ID,
  RecordIds,
  type LogLevel,
  type LogRecordInput,
  type LogSource,
  type MeasurementInput,
  type NodeMetricInput,
  type Origin,
  type PredictionInput,
  type RecordInputs,
  type RecordKind,
} from './data-plane/records.js';
export { EngineLogPublisher } from './data-plane/records.publisher.js';
export {
  planRuntimeNatsResources,
  planVersionResources,
  provisionRuntimeNatsResources,
  provisionVersionResources,
  removeRuntimeNatsResources,
  removeVersionResources,
  removeVersionStreams,
  storeVersionKrt,
  type NodeStores,
  type ResourcesWorkflowSpec,
  type RuntimeNatsResources,
  type StoreMaxBytes,
  type VersionResources,
} from './version-resources.js';
export { NatsProvisioner } from './nats-provisioner.service.js';
export {
  DEFAULT_STREAM_SETTINGS,
  WorkflowWiringError,
  applyWorkflowStreams,
  deleteWorkflowStreams,
  planWorkflowStreams,
  provisionObservabilityStream,
  provisionWorkflowStreams,
  updateObservabilityStreamLimits,
  type ObservabilityStreamLimits,
  type NodeInput,
  type NodeWiring,
  type StreamSettings,
  type SubscriptionSpec,
  type WorkflowSpec,
  type WorkflowStreamsPlan,
} from './workflow-streams.js';
export {
  GatewayRoutes,
  openGatewayRoutes,
  publishedRouteSchema,
  versionRouteKey,
  versionRouteSchema,
  type PublishedRoute,
  type VersionRoute,
} from './gateway-routes.js';
export {
  SCALE_STATES,
  describeIssues,
  scaleStateSchema,
  versionActivitySchema,
  wakeReplySchema,
  wakeRequestSchema,
  type ScaleState,
  type VersionActivity,
  type WakeReply,
  type WakeRequest,
} from './version-scale.js';
export { JetStreamPublisher, PublishError, type PubAck } from './data-plane/jetstream-publisher.js';
export { RpcError, type RpcErrorCode } from './data-plane/rpc.errors.js';
export {
  INVOCATION_KEY_LENGTH,
  INVOCATION_KEY_PREFIX,
  InvocationKeysBucket,
  bindInvocationKeys,
  invocationKeyEntrySchema,
  invocationKeyUsedSchema,
  openInvocationKeys,
  runtimeInvocationKeysSchema,
  type InvocationKeyEntry,
  type InvocationKeyUsed,
  type RuntimeInvocationKeys,
} from './invocation-keys.js';
export {
  ENGINE_APPS,
  enginePermissions,
  kvBucketAccess,
  objectStoreAccess,
  workloadPermissions,
  type EngineApp,
  type NatsPermissions,
} from './auth/nats-permissions.js';
export {
  accountJwt,
  createNatsAuthority,
  credsPublicKey,
  mintUser,
  natsServerConfig,
  parseNatsAuthority,
  publicKeys,
  type NatsAuthority,
} from './auth/nats-authority.js';
export {
  NATS_AUTHORITY,
  WorkloadIdentities,
  type NatsAuthorityOptions,
  type VersionPins,
} from './auth/workload-identities.service.js';
