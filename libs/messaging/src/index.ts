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
// Everything a workload loads (the data plane, the NATS connection), then what only the engine
// apps use of the same modules.
export * from './workload.js';
export { NATS_CONNECTION, NatsModule } from './nats.module.js';
export {
  FIND_DEFAULT_LIMIT,
  FIND_MAX_LIMIT,
  SAFE_QUERY_OPERATORS,
  decodeFindRequest,
  decodeSaveRequest,
  encodeDataReply,
} from './data-plane/data-requests.js';
export { TYPE_URL_PREFIX, wellKnownTypes } from './data-plane/payload.js';
export {
  jsonName,
  messageFromJson,
  messageToJson,
  type ToJsonOptions,
} from './data-plane/proto-json.js';
export { kreProtos } from './data-plane/proto-root.js';
export {
  InvalidRecordError,
  decodeRecord,
  formatRecordId,
  RECORD_ID,
  RecordIds,
  type LogRecordInput,
  type NodeMetricInput,
  type RecordInputs,
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
