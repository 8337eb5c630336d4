{{/*
A pubsub.kafka component: the connection from `pubsub`, the consumer side from the
arguments (name, consumerGroup, initialOffset, scopes).
*/}}
{{- define "todo-dapr.kafkaComponent" -}}
{{- $root := .root -}}
{{- $p := $root.Values.pubsub -}}
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  {{- include "todo-dapr.metadata" (dict "root" $root "name" .name) | nindent 2 }}
spec:
  type: pubsub.kafka
  version: v1
  metadata:
    - name: brokers
      value: {{ required "pubsub.brokers is required" $p.brokers | quote }}
    - name: consumerGroup
      value: {{ .consumerGroup | quote }}
    - name: clientId
      value: {{ $p.clientId | quote }}
    - name: initialOffset
      value: {{ .initialOffset | quote }}
    - name: maxMessageBytes
      value: {{ $p.maxMessageBytes | int64 | toString | quote }}
    - name: consumeRetryInterval
      value: {{ $p.consumeRetryInterval | quote }}
    - name: authType
      value: {{ $p.authType | quote }}
    {{- if eq $p.authType "password" }}
    - name: saslMechanism
      value: {{ $p.sasl.mechanism | quote }}
    {{- include "todo-dapr.secretItem" (dict "item" "saslUsername" "what" "pubsub.sasl.username" "ref" $p.sasl.username) | nindent 4 }}
    {{- include "todo-dapr.secretItem" (dict "item" "saslPassword" "what" "pubsub.sasl.password" "ref" $p.sasl.password) | nindent 4 }}
    - name: disableTls
      value: "false"
    {{- else if ne $p.authType "none" }}
    {{- fail (printf "pubsub.authType must be none or password, not %q" $p.authType) }}
    {{- end }}
{{- include "todo-dapr.auth" $root }}
scopes:
  {{- toYaml .scopes | nindent 2 }}
{{- end }}
