{{/*
The backend's configuration (ConfigMap data, also inlined into the migrations Job) and the
env entries it reads from existing Secrets. The shared templates in todo-common include
these by name: `<chart>.config` and `<chart>.secretEnv`.
*/}}
{{- define "todo-backend.bus" -}}
{{- if .Values.settings.bus }}{{ .Values.settings.bus }}{{ else if .Values.dapr.enabled }}dapr{{ else }}kafka{{ end }}
{{- end }}

{{- define "todo-backend.config" -}}
{{- $s := .Values.settings }}
{{- $bus := include "todo-backend.bus" . }}
TODO_ENVIRONMENT: {{ $s.environment | quote }}
TODO_HOST: "0.0.0.0"
TODO_PORT: {{ .Values.containerPort | quote }}
{{- if and .Values.dapr.enabled .Values.dapr.appPort }}
TODO_INTERNAL_PORT: {{ .Values.dapr.appPort | quote }}
{{- end }}
{{- with .Values.metricsPort }}
TODO_METRICS_PORT: {{ . | quote }}
{{- end }}
TODO_JSON_LOGS: "true"
TODO_LOG_LEVEL: {{ $s.logLevel | quote }}
TODO_BUS: {{ $bus | quote }}
{{- if eq $bus "kafka" }}
TODO_KAFKA_BOOTSTRAP: {{ required "settings.kafkaBootstrap is required when the bus is kafka" $s.kafkaBootstrap | quote }}
{{- end }}
TODO_EMBEDDED_WORKER: "false"
TODO_MIGRATE_ON_START: "false"
TODO_DATABASE_POOL_SIZE: {{ $s.databasePoolSize | int64 | toString | quote }}
TODO_JWT_ISSUER: {{ $s.jwtIssuer | quote }}
TODO_JWT_AUDIENCE: {{ $s.jwtAudience | quote }}
{{- with $s.jwksUrl }}
TODO_JWKS_URL: {{ . | quote }}
TODO_EXTERNAL_ISSUER: {{ required "settings.externalIssuer is required with settings.jwksUrl" $s.externalIssuer | quote }}
TODO_EXTERNAL_AUDIENCE: {{ required "settings.externalAudience is required with settings.jwksUrl" $s.externalAudience | quote }}
{{- end }}
{{- with .Values.ingress.trustedProxies }}
FORWARDED_ALLOW_IPS: {{ . | quote }}
{{- end }}
{{- /* Only the embedded shape keeps files there; under a read-only root it must be /tmp. */}}
TODO_DATA_DIR: "/tmp/todo-data"
{{- end }}

{{- define "todo-backend.secretEnv" -}}
- name: TODO_DATABASE_URL
  {{- include "todo.secretKeyRef" (dict "what" "database" "name" .Values.database.existingSecret "key" .Values.database.urlKey) | nindent 2 }}
- name: TODO_JWT_SECRET
  {{- include "todo.secretKeyRef" (dict "what" "jwt" "name" .Values.jwt.existingSecret "key" .Values.jwt.key) | nindent 2 }}
- name: TODO_APP_API_TOKEN
  {{- include "todo.secretKeyRef" (dict "what" "appApiToken" "name" .Values.appApiToken.existingSecret "key" .Values.appApiToken.key) | nindent 2 }}
{{- end }}

{{/* Not the Deployment's selector labels: the Service, PDB and NetworkPolicy must not pick the Job's pod. */}}
{{- define "todo-backend.migrationsLabels" -}}
helm.sh/chart: {{ include "todo.chart" . }}
app.kubernetes.io/name: {{ include "todo.name" . }}-migrations
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "todo.imageTag" . | quote }}
app.kubernetes.io/component: migrations
app.kubernetes.io/part-of: todo-cloud
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
