import { graphql } from './graphql.ts';

export const ME = graphql(`
  query Me {
    me {
      id
      email
      platformRole
    }
  }
`);

export const RUNTIMES = graphql(`
  query Runtimes {
    runtimes {
      id
      name
      description
      status
      publishedVersion
      creationDate
    }
  }
`);

export const CREATE_RUNTIME = graphql(`
  mutation CreateRuntime($input: CreateRuntimeInput!) {
    createRuntime(input: $input) {
      id
      name
      description
      status
      publishedVersion
      creationDate
    }
  }
`);

export const RUNTIME = graphql(`
  query Runtime($id: ID!) {
    runtime(id: $id) {
      id
      name
      description
      status
      publishedVersion
      requireInvocationKey
      entrypointAddress {
        http
        grpc
        grpcMetadata
      }
      quota {
        replicas
        cpu
        memory
        gpus
        storage
        observabilityStorage
        observabilityMaxAge
      }
    }
    runtimeMembers(runtimeId: $id) {
      userId
      email
      role
      creationDate
    }
  }
`);

export const VERSIONS = graphql(`
  query Versions($runtimeId: ID!) {
    versions(runtimeId: $runtimeId) {
      id
      name
      description
      status
      creationDate
      publicationDate
      errors
      scale {
        state
        replicas
      }
    }
  }
`);

export const WATCH_VERSION = graphql(`
  subscription WatchVersion($runtimeId: ID!) {
    watchVersion(runtimeId: $runtimeId) {
      versionName
      status
      step
      message
      date
      scale {
        state
        replicas
        idleSeconds
      }
    }
  }
`);

/**
 * A version, with its workflow graph (each node's `subscriptions`: admin-api counts the lists of
 * the version's own document ×3, not ×10, so the whole graph fits its cost limit).
 */
export const VERSION = graphql(`
  query Version($runtimeId: ID!, $name: String!) {
    version(runtimeId: $runtimeId, name: $name) {
      id
      name
      description
      status
      krtVersion
      creationDate
      publicationDate
      errors
      docs
      scale {
        state
        replicas
        idleSeconds
      }
      entrypointAddress {
        http
        grpc
      }
      entrypointAutoscale {
        min
        max
      }
      config {
        completed
        vars {
          key
          type
          isSet
          value
        }
      }
      workflows {
        name
        displayName
        entrypoint
        exitpoint
        nodes {
          name
          displayName
          replicas
          autoscale {
            min
            max
          }
          subscriptions {
            node
          }
        }
      }
    }
  }
`);

export const WATCH_NODE_STATUS = graphql(`
  subscription WatchNodeStatus($runtimeId: ID!, $versionName: String!) {
    watchNodeStatus(runtimeId: $runtimeId, versionName: $versionName) {
      nodeId
      name
      workflow
      status
      date
      scale {
        state
        replicas
      }
      replicas {
        replica
        state
        restarts
        message
      }
    }
  }
`);

export const UPDATE_CONFIG = graphql(`
  mutation UpdateConfig($input: UpdateConfigurationInput!) {
    updateVersionUserConfiguration(input: $input) {
      id
      status
      config {
        completed
        vars {
          key
          type
          isSet
          value
        }
      }
    }
  }
`);

export const START_VERSION = graphql(`
  mutation StartVersion($input: VersionActionInput!) {
    startVersion(input: $input) {
      id
      status
    }
  }
`);
export const STOP_VERSION = graphql(`
  mutation StopVersion($input: VersionActionInput!) {
    stopVersion(input: $input) {
      id
      status
    }
  }
`);
export const PUBLISH_VERSION = graphql(`
  mutation PublishVersion($input: VersionActionInput!) {
    publishVersion(input: $input) {
      id
      status
      publicationDate
    }
  }
`);
export const UNPUBLISH_VERSION = graphql(`
  mutation UnpublishVersion($input: VersionActionInput!) {
    unpublishVersion(input: $input) {
      id
      status
    }
  }
`);
export const DELETE_VERSION = graphql(`
  mutation DeleteVersion($input: VersionActionInput!) {
    deleteVersion(input: $input) {
      id
      status
    }
  }
`);

export const LOGS = graphql(`
  query Logs($runtimeId: ID!, $filters: LogFilters!, $cursor: String, $limit: Int) {
    logs(runtimeId: $runtimeId, filters: $filters, cursor: $cursor, limit: $limit) {
      cursor
      items {
        id
        date
        level
        message
        nodeName
        workflowName
        replica
        source
        requestId
      }
    }
  }
`);

export const WATCH_LOGS = graphql(`
  subscription WatchLogs($runtimeId: ID!, $versionName: String!, $filters: LogTailFilters) {
    watchNodeLogs(runtimeId: $runtimeId, versionName: $versionName, filters: $filters) {
      id
      date
      level
      message
      nodeName
      workflowName
      replica
      source
      requestId
    }
  }
`);

export const METRICS = graphql(`
  query Metrics($runtimeId: ID!, $versionName: String!, $from: DateTime!, $bucket: TimeBucket!) {
    metrics(runtimeId: $runtimeId, versionName: $versionName, startDate: $from) {
      values {
        missing
        newLabels
        accuracy {
          total
          micro
          macro
          weighted
        }
      }
      charts {
        confusionMatrix {
          x
          y
          z
        }
      }
    }
    nodeMetrics(runtimeId: $runtimeId, versionName: $versionName, from: $from, bucket: $bucket) {
      nodeName
      workflowName
      points {
        date
        requests
        errors
        latencyP50Ms
        latencyP95Ms
        latencyP99Ms
      }
    }
  }
`);

export const INVOCATION_KEYS = graphql(`
  query InvocationKeys($runtimeId: ID!) {
    invocationKeys(runtimeId: $runtimeId) {
      id
      name
      createdAt
      expiresAt
      lastUsedAt
      revokedAt
    }
  }
`);
export const CREATE_INVOCATION_KEY = graphql(`
  mutation CreateInvocationKey($runtimeId: ID!, $input: CreateInvocationKeyInput!) {
    createInvocationKey(runtimeId: $runtimeId, input: $input) {
      key
      invocationKey {
        id
        name
        createdAt
        expiresAt
        lastUsedAt
        revokedAt
      }
    }
  }
`);
export const REVOKE_INVOCATION_KEY = graphql(`
  mutation RevokeInvocationKey($runtimeId: ID!, $id: ID!) {
    revokeInvocationKey(runtimeId: $runtimeId, id: $id) {
      id
      revokedAt
    }
  }
`);

export const API_TOKENS = graphql(`
  query ApiTokens {
    apiTokens {
      id
      name
      creationDate
      expiresAt
      lastUsedAt
    }
  }
`);
export const GENERATE_API_TOKEN = graphql(`
  mutation GenerateApiToken($input: GenerateApiTokenInput!) {
    generateApiToken(input: $input) {
      token
      apiToken {
        id
        name
        creationDate
        expiresAt
        lastUsedAt
      }
    }
  }
`);
export const DELETE_API_TOKEN = graphql(`
  mutation DeleteApiToken($input: DeleteApiTokenInput!) {
    deleteApiToken(input: $input) {
      id
    }
  }
`);

export const ADD_MEMBER = graphql(`
  mutation AddMember($input: AddRuntimeMemberInput!) {
    addRuntimeMember(input: $input) {
      userId
      email
      role
      creationDate
    }
  }
`);
export const UPDATE_MEMBER_ROLE = graphql(`
  mutation UpdateMemberRole($input: UpdateRuntimeMemberRoleInput!) {
    updateRuntimeMemberRole(input: $input) {
      userId
      role
    }
  }
`);
export const REMOVE_MEMBER = graphql(`
  mutation RemoveMember($input: RemoveRuntimeMemberInput!) {
    removeRuntimeMember(input: $input) {
      userId
    }
  }
`);

export const AUDIT = graphql(`
  query Audit($filters: UserActivityFilters, $cursor: String) {
    userActivityList(filters: $filters, cursor: $cursor) {
      cursor
      items {
        id
        date
        type
        userEmail
        runtimeId
        vars {
          key
          value
        }
      }
    }
  }
`);

export const REMOVE_USERS = graphql(`
  mutation RemoveUsers($input: UsersInput!) {
    removeUsers(input: $input) {
      id
    }
  }
`);
export const UPDATE_PLATFORM_ROLE = graphql(`
  mutation UpdatePlatformRole($input: UpdatePlatformRoleInput!) {
    updatePlatformRole(input: $input) {
      id
      platformRole
    }
  }
`);
export const REVOKE_USER_SESSIONS = graphql(`
  mutation RevokeUserSessions($input: UsersInput!, $includeApiTokens: Boolean) {
    revokeUserSessions(input: $input, includeApiTokens: $includeApiTokens) {
      id
      activeSessions
    }
  }
`);

export const USERS = graphql(`
  query Users {
    users {
      id
      email
      platformRole
      lastActivity
      activeSessions
    }
    settings {
      authAllowedDomains
      sessionLifetimeInDays
      sessionIdleMinutes
      signInLinkTtlMinutes
    }
  }
`);
export const CREATE_USER = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      id
      email
      platformRole
      lastActivity
      activeSessions
    }
  }
`);
export const UPDATE_SETTINGS = graphql(`
  mutation UpdateSettings($input: SettingsInput!) {
    updateSettings(input: $input) {
      authAllowedDomains
      sessionLifetimeInDays
      sessionIdleMinutes
      signInLinkTtlMinutes
    }
  }
`);

export const VERSION_DOCS = graphql(`
  query VersionDocs($runtimeId: ID!, $name: String!, $path: String!) {
    versionDocs(runtimeId: $runtimeId, name: $name, path: $path)
  }
`);

export const REPLICA_RESOURCES = graphql(`
  query ReplicaResources($runtimeId: ID!, $versionName: String!) {
    replicaResources(runtimeId: $runtimeId, versionName: $versionName) {
      workload
      replica
      state
      cpuCores
      memoryBytes
      restarts
      sampledAt
      source
    }
  }
`);

export const MEASUREMENTS = graphql(`
  query Measurements(
    $runtimeId: ID!
    $versionName: String!
    $name: String!
    $from: DateTime!
    $bucket: TimeBucket!
    $tags: [TagInput!]
  ) {
    measurements(
      runtimeId: $runtimeId
      versionName: $versionName
      name: $name
      from: $from
      bucket: $bucket
      tags: $tags
    ) {
      date
      count
      fields {
        name
        mean
        max
        min
      }
    }
  }
`);

export const RUNTIME_SETTINGS = graphql(`
  query RuntimeSettings($runtimeId: ID!) {
    observabilityRetention(runtimeId: $runtimeId) {
      days
      isDefault
      updatedAt
    }
    versions(runtimeId: $runtimeId) {
      id
      name
      status
      scale {
        replicas
      }
    }
  }
`);
export const SET_RUNTIME_QUOTA = graphql(`
  mutation SetRuntimeQuota($input: SetRuntimeQuotaInput!) {
    setRuntimeQuota(input: $input) {
      id
      quota {
        replicas
        cpu
        memory
        gpus
        storage
        observabilityStorage
        observabilityMaxAge
      }
    }
  }
`);
export const SET_RETENTION = graphql(`
  mutation SetRetention($input: SetObservabilityRetentionInput!) {
    setObservabilityRetention(input: $input) {
      days
      isDefault
      updatedAt
    }
  }
`);
export const UPDATE_RUNTIME = graphql(`
  mutation UpdateRuntime($input: UpdateRuntimeInput!) {
    updateRuntime(input: $input) {
      id
      requireInvocationKey
    }
  }
`);

export const UPDATE_VERSION_SCALE = graphql(`
  mutation UpdateVersionScale($input: UpdateVersionScaleInput!) {
    updateVersionScale(input: $input) {
      id
      scale {
        state
        replicas
        idleSeconds
      }
    }
  }
`);
export const UPDATE_ENTRYPOINT_AUTOSCALE = graphql(`
  mutation UpdateEntrypointAutoscale($input: UpdateEntrypointAutoscaleInput!) {
    updateEntrypointAutoscale(input: $input) {
      id
      entrypointAutoscale {
        min
        max
      }
    }
  }
`);
export const UPDATE_NODE_AUTOSCALE = graphql(`
  mutation UpdateNodeAutoscale($input: UpdateNodeAutoscaleInput!) {
    updateNodeAutoscale(input: $input) {
      id
      workflows {
        name
        nodes {
          name
          autoscale {
            min
            max
          }
        }
      }
    }
  }
`);
