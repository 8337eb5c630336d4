{{/*
The worker's configuration (ConfigMap data) and the env entries it reads from existing
Secrets. The shared templates in todo-common include these by name.
*/}}
{{- define "todo-worker.backendUrl" -}}
{{- $s := .Values.settings }}
{{- if $s.backendUrl }}{{ $s.backendUrl }}
{{- else if .Values.dapr.enabled }}http://127.0.0.1:3500/v1.0/invoke/{{ $s.backendAppId }}/method
{{- else }}{{ $s.backendService }}
{{- end }}
{{- end }}

{{- define "todo-worker.bus" -}}
{{- if .Values.settings.bus }}{{ .Values.settings.bus }}{{ else if .Values.dapr.enabled }}dapr{{ else }}kafka{{ end }}
{{- end }}

{{- define "todo-worker.config" -}}
{{- $s := .Values.settings }}
{{- $bus := include "todo-worker.bus" . }}
TODO_WORKER_HOST: "0.0.0.0"
TODO_WORKER_PORT: {{ .Values.containerPort | quote }}
TODO_WORKER_JSON_LOGS: "true"
TODO_WORKER_LOG_LEVEL: {{ $s.logLevel | quote }}
TODO_WORKER_BUS: {{ $bus | quote }}
TODO_WORKER_CONSUMER_GROUP: {{ $s.consumerGroup | quote }}
{{- if eq $bus "kafka" }}
{{- /* Kafka shape: the worker consumes Kafka itself and calls the backend directly. */}}
TODO_WORKER_KAFKA_BOOTSTRAP: {{ required "settings.kafkaBootstrap is required when the bus is kafka" $s.kafkaBootstrap | quote }}
TODO_WORKER_BACKEND_URL: {{ include "todo-worker.backendUrl" . | quote }}
{{- else }}
{{- /* Dapr shape: subscriptions, Jobs API and service invocation through the sidecar
(DAPR_HTTP_PORT is set by the sidecar injector). */}}
TODO_WORKER_BACKEND_APP_ID: {{ $s.backendAppId | quote }}
{{- end }}
{{- end }}

{{- define "todo-worker.secretEnv" -}}
{{- if eq (include "todo-worker.bus" .) "kafka" }}
- name: TODO_WORKER_DATABASE_URL
  {{- include "todo.secretKeyRef" (dict "what" "database" "name" .Values.database.existingSecret "key" .Values.database.urlKey) | nindent 2 }}
{{- end }}
- name: TODO_WORKER_APP_API_TOKEN
  {{- include "todo.secretKeyRef" (dict "what" "appApiToken" "name" .Values.appApiToken.existingSecret "key" .Values.appApiToken.key) | nindent 2 }}
{{- end }}
