{{- define "todo-dapr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: dapr
app.kubernetes.io/part-of: todo-cloud
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "todo-dapr.kubernetes" -}}
{{- if eq .Values.secretStore.type "secretstores.kubernetes" }}true{{ end }}
{{- end }}

{{/* metadata of every resource: labels, and the Argo CD sync wave in a cluster. */}}
{{- define "todo-dapr.metadata" -}}
name: {{ .name }}
labels:
  {{- include "todo-dapr.labels" .root | nindent 2 }}
{{- if include "todo-dapr.kubernetes" .root }}
annotations:
  argocd.argoproj.io/sync-wave: {{ .root.Values.syncWave | quote }}
{{- end }}
{{- end }}

{{/*
A component metadata entry read from the secret store. In a cluster the Dapr operator
resolves secretKeyRef from Kubernetes Secrets; a local daprd reads the store named in the
component's `auth.secretStore`.
*/}}
{{- define "todo-dapr.secretItem" -}}
- name: {{ .item }}
  secretKeyRef:
    name: {{ required (printf "%s.secretName is required" .what) .ref.secretName | quote }}
    key: {{ required (printf "%s.key is required" .what) .ref.key | quote }}
{{- end }}

{{- define "todo-dapr.auth" -}}
{{- if not (include "todo-dapr.kubernetes" .) }}
auth:
  secretStore: {{ .Values.secretStore.name }}
{{- end }}
{{- end }}

{{- define "todo-dapr.scopes" -}}
scopes:
  - {{ .Values.appIds.backend }}
  - {{ .Values.appIds.worker }}
{{- end }}
