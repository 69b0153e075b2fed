{{/* Chart name, cut to a DNS label. */}}
{{- define "kre.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* `<release>-<chart>` (or just the release when it already contains the chart name). */}}
{{- define "kre.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects: (dict "root" $ "component" "admin-api"). */}}
{{- define "kre.componentName" -}}
{{- printf "%s-%s" (include "kre.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select a component's pods (never change them: selectors are immutable). */}}
{{- define "kre.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kre.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels: (dict "root" $ "component" "admin-api"). */}}
{{- define "kre.labels" -}}
{{ include "kre.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kre
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
The deployer's ServiceAccount, `<prefix>-deployer` in the release namespace. The deployer derives
the same name (KRE_PREFIX) for the RoleBinding it creates in each runtime namespace
(libs/orchestrator runtime.manifests.ts), so it does not follow the release's full name.
*/}}
{{- define "kre.deployerServiceAccount" -}}
{{- printf "%s-deployer" .Values.kre.prefix -}}
{{- end -}}

{{/*
The ClusterRole the deployer binds in each runtime namespace (and may bind nowhere else), named
from what the deployer knows: KUBE_NAMESPACE (the release namespace) and KRE_PREFIX.
*/}}
{{- define "kre.runtimeDeployerRole" -}}
{{- printf "kre-runtime-deployer:%s:%s" .Release.Namespace .Values.kre.prefix -}}
{{- end -}}

{{/* Name of the installation's cluster-scoped objects: `<release namespace>-<fullname>-<component>`. */}}
{{- define "kre.clusterName" -}}
{{- printf "%s-%s" .root.Release.Namespace (include "kre.componentName" .) | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{/* A KRE image: (dict "root" $ "app" "adminApi"). */}}
{{- define "kre.image" -}}
{{- $image := .root.Values.image -}}
{{- $repository := index $image.repositories .app -}}
{{- $tag := default .root.Chart.AppVersion $image.tag -}}
{{- if $image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $image.registry) $repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* `<service>.<namespace>.svc.<clusterDomain>` of a component: (dict "root" $ "component" "nats"). */}}
{{- define "kre.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "kre.componentName" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/*
A value of a Secret the chart generated on an earlier install, or `generated` on the first one:
(dict "root" $ "name" "<secret>" "key" "<key>" "generated" "<fresh value>"). `helm template`
and `--dry-run` see no cluster, so they always render the fresh value.
*/}}
{{- define "kre.persistedSecretValue" -}}
{{- $secret := lookup "v1" "Secret" .root.Release.Namespace .name | default dict -}}
{{- $current := dig "data" .key "" $secret -}}
{{- if $current -}}
{{- $current | b64dec -}}
{{- else -}}
{{- .generated -}}
{{- end -}}
{{- end -}}

{{/* Secret name and key of each connection URL the apps read. */}}
{{- define "kre.natsUrlRef" -}}
{{- if .Values.nats.enabled -}}
{{- dict "name" "" "key" "" | toJson -}}
{{- else -}}
{{- dict "name" (required "nats.external.existingSecret is required when nats.enabled is false" .Values.nats.external.existingSecret) "key" .Values.nats.external.existingSecretKey | toJson -}}
{{- end -}}
{{- end -}}

{{- define "kre.natsUrl" -}}
{{- printf "nats://%s:4222" (include "kre.serviceHost" (dict "root" . "component" "nats")) -}}
{{- end -}}

{{- define "kre.redisSecret" -}}
{{- if .Values.redis.enabled -}}
{{- dict "name" (include "kre.componentName" (dict "root" . "component" "redis")) "key" "url" | toJson -}}
{{- else -}}
{{- dict "name" (required "redis.external.existingSecret is required when redis.enabled is false" .Values.redis.external.existingSecret) "key" .Values.redis.external.existingSecretKey | toJson -}}
{{- end -}}
{{- end -}}

{{- define "kre.mongoSecret" -}}
{{- if .Values.mongodb.enabled -}}
{{- dict "name" (include "kre.componentName" (dict "root" . "component" "mongodb")) "key" "url" | toJson -}}
{{- else -}}
{{- dict "name" (required "mongodb.external.existingSecret is required when mongodb.enabled is false" .Values.mongodb.external.existingSecret) "key" .Values.mongodb.external.existingSecretKey | toJson -}}
{{- end -}}
{{- end -}}

{{- define "kre.smtpSecret" -}}
{{- if .Values.smtp.existingSecret -}}
{{- dict "name" .Values.smtp.existingSecret "key" .Values.smtp.existingSecretKey | toJson -}}
{{- else -}}
{{- dict "name" (include "kre.componentName" (dict "root" . "component" "smtp")) "key" "url" | toJson -}}
{{- end -}}
{{- end -}}

{{- define "kre.configKeySecret" -}}
{{- if .Values.configEncryptionKey.existingSecret -}}
{{- dict "name" .Values.configEncryptionKey.existingSecret "key" .Values.configEncryptionKey.existingSecretKey | toJson -}}
{{- else -}}
{{- dict "name" (include "kre.componentName" (dict "root" . "component" "config-key")) "key" "key" | toJson -}}
{{- end -}}
{{- end -}}

{{/* An env var read from a Secret: (dict "name" "MONGO_URL" "ref" (include "kre.mongoSecret" $)). */}}
{{- define "kre.secretEnv" -}}
{{- $ref := fromJson .ref -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end -}}

{{/* NATS_URL: the chart's NATS Service, or the external URL's Secret. */}}
{{- define "kre.natsEnv" -}}
{{- if .Values.nats.enabled -}}
- name: NATS_URL
  value: {{ include "kre.natsUrl" . | quote }}
{{- else -}}
{{ include "kre.secretEnv" (dict "name" "NATS_URL" "ref" (include "kre.natsUrlRef" .)) }}
{{- end -}}
{{- end -}}

{{/*
The Secret of the installation's NATS identities (nats.auth.existingSecret), made by
`scripts/nats-auth.ts k8s-secret`: auth.conf (the NATS server's trust), authority.json (the
deployer's) and `<app>.creds` for each engine app. NATS refuses anonymous connections, so no app
starts without it.
*/}}
{{- define "kre.natsAuthSecret" -}}
{{- $command := printf "node_modules/.bin/node scripts/nats-auth.ts k8s-secret %s %s-nats-auth %s | kubectl apply --server-side -f -" .Values.kre.prefix .Values.kre.prefix .Release.Namespace -}}
{{- required (printf "nats.auth.existingSecret is required: the Secret of the installation's NATS identities (NATS refuses anonymous connections). Make it with `%s` (after npm ci && npm run build; helm/kre/README.md, \"NATS identities\"), then set nats.auth.existingSecret=%s-nats-auth" $command .Values.kre.prefix) .Values.nats.auth.existingSecret -}}
{{- end -}}

{{/* Where an app's NATS identity files are mounted (read-only). */}}
{{- define "kre.natsAuthDir" -}}
/etc/kre/nats
{{- end -}}

{{/*
NATS_CREDS (and, with "authority", the deployer's NATS_AUTHORITY_FILE):
(dict "root" $ "app" "admin-api" ["authority" true]).
*/}}
{{- define "kre.natsAuthEnv" -}}
- name: NATS_CREDS
  value: {{ printf "%s/%s.creds" (include "kre.natsAuthDir" .root) .app | quote }}
{{- if .authority }}
- name: NATS_AUTHORITY_FILE
  value: {{ printf "%s/authority.json" (include "kre.natsAuthDir" .root) | quote }}
{{- end }}
{{- end -}}

{{- define "kre.natsAuthMount" -}}
- name: nats-auth
  mountPath: {{ include "kre.natsAuthDir" . }}
  readOnly: true
{{- end -}}

{{/*
The volume of an app's own NATS identity: only its `<app>.creds` from the Secret (with
"authority", authority.json too): (dict "root" $ "app" "admin-api" ["authority" true]).
*/}}
{{- define "kre.natsAuthVolume" -}}
- name: nats-auth
  secret:
    secretName: {{ include "kre.natsAuthSecret" .root }}
    # 0440: owned by root and the pod's fsGroup (the app's group), readable by no one else.
    defaultMode: 288
    items:
      - key: {{ .app }}.creds
        path: {{ .app }}.creds
      {{- if .authority }}
      - key: authority.json
        path: authority.json
      {{- end }}
{{- end -}}

{{/* Env every KRE app reads. */}}
{{- define "kre.baseEnv" -}}
- name: NODE_ENV
  value: {{ .Values.kre.nodeEnv | quote }}
- name: LOG_LEVEL
  value: {{ .Values.kre.logLevel | quote }}
- name: LOG_FORMAT
  value: {{ .Values.kre.logFormat | quote }}
- name: KRE_PREFIX
  value: {{ .Values.kre.prefix | quote }}
{{- with .Values.kre.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{ include "kre.natsEnv" . }}
{{- end -}}

{{/* Pod security context of KRE's apps (Pod Security Standard `restricted`). */}}
{{- define "kre.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context (Pod Security Standard `restricted`, read-only root). */}}
{{- define "kre.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
imagePullSecrets, nodeSelector, tolerations and affinity of a component's pods:
(dict "root" $ "values" <the component's values>). Callers trim it, so nothing renders no line.
*/}}
{{- define "kre.podPlacement" -}}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* HTTP probes on an app's health endpoints: (dict "port" "health"). */}}
{{- define "kre.probes" -}}
startupProbe:
  httpGet: { path: /livez, port: {{ .port }} }
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: { path: /livez, port: {{ .port }} }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: {{ .port }} }
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end -}}

{{/* A NetworkPolicy peer: the pods of one of the release's components: (dict "root" $ "component" "deployer"). */}}
{{- define "kre.appPeer" -}}
- podSelector:
    matchLabels:
      {{- include "kre.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* nats.conf of the chart's NATS server. */}}
{{- define "kre.natsConfig" -}}
server_name: $POD_NAME
listen: 0.0.0.0:4222
# Monitoring (/healthz for the probes; /connz, /subsz... show clients and subjects): no Service
# port, no containerPort, and the NetworkPolicy admits only 4222 to this pod.
http: 0.0.0.0:8222
lame_duck_duration: 30s
lame_duck_grace_period: 10s
jetstream {
  store_dir: /data
  max_memory_store: {{ .Values.nats.jetstream.maxMemoryStore }}
  max_file_store: {{ .Values.nats.jetstream.maxFileStore }}
}
# Operator mode (no anonymous connection): operator, system account, the full account resolver
# (under /data/resolver) and max_control_line, from the Secret nats.auth.existingSecret, mounted
# beside this file (include paths are relative to this file's folder).
include ./auth.conf
{{- end -}}

{{/*
GATEWAY_RUNTIME_HOSTS: the names under which a runtime reaches the gateway: its Ingress host
(`*.<kubernetes.ingress.domain>`) and its stable Service (`entrypoint.<prefix>-*.svc[.<clusterDomain>]`,
an ExternalName onto the gateway).
*/}}
{{- define "kre.runtimeHosts" -}}
{{- $hosts := list (printf "entrypoint.%s-*.svc" .Values.kre.prefix) (printf "entrypoint.%s-*.svc.%s" .Values.kre.prefix .Values.clusterDomain) -}}
{{- with .Values.kubernetes.ingress.domain }}{{- $hosts = prepend $hosts (printf "*.%s" .) -}}{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/* RUNTIME_QUOTA_*: the quota of new runtimes (admin-api stores it, the deployer enforces it). */}}
{{- define "kre.quotaEnv" -}}
- name: RUNTIME_QUOTA_REPLICAS
  value: {{ .Values.runtimeQuota.replicas | quote }}
- name: RUNTIME_QUOTA_MEMORY
  value: {{ .Values.runtimeQuota.memory | quote }}
- name: RUNTIME_QUOTA_CPU
  value: {{ .Values.runtimeQuota.cpu | quote }}
- name: RUNTIME_QUOTA_GPUS
  value: {{ .Values.runtimeQuota.gpus | quote }}
- name: RUNTIME_QUOTA_STORAGE
  value: {{ .Values.runtimeQuota.storage | quote }}
- name: RUNTIME_QUOTA_OBS_BYTES
  value: {{ .Values.runtimeQuota.observabilityStorage | quote }}
- name: RUNTIME_QUOTA_OBS_MAX_AGE
  value: {{ .Values.runtimeQuota.observabilityMaxAge | quote }}
{{- end -}}

{{/* OBS_RETENTION_DAYS: the default retention of observability records (admin-api, mongo-writer). */}}
{{- define "kre.retentionEnv" -}}
- name: OBS_RETENTION_DAYS
  value: {{ .Values.observability.retentionDays | quote }}
{{- end -}}

{{/*
A pod's annotations: the component's podAnnotations and, with metrics.scrapeAnnotations, the
prometheus.io/* ones that point a Prometheus at its /metrics on `port`:
(dict "root" $ "values" $v "port" 8081).
*/}}
{{- define "kre.podAnnotations" -}}
{{- $annotations := deepCopy (.values.podAnnotations | default dict) -}}
{{- if .root.Values.metrics.scrapeAnnotations -}}
{{- $_ := set $annotations "prometheus.io/scrape" "true" -}}
{{- $_ := set $annotations "prometheus.io/port" (toString .port) -}}
{{- $_ := set $annotations "prometheus.io/path" "/metrics" -}}
{{- end -}}
{{- with $annotations }}{{ toYaml . }}{{ end -}}
{{- end -}}
