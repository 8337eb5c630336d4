{{/*
The pieces of a Todo Cloud pod that every workload (Deployment, migrations Job) shares.
*/}}

{{/* Config entries (a YAML map of env var -> string) from the chart's `<chart>.config`. */}}
{{- define "todo.config" -}}
{{- include (printf "%s.config" .Chart.Name) . }}
{{- end }}

{{/* The same entries as a container `env:` list (for pods that must not need the ConfigMap). */}}
{{- define "todo.configEnv" -}}
{{- range $name, $value := (include "todo.config" . | fromYaml) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Env entries read from existing Secrets, from the chart's `<chart>.secretEnv`. */}}
{{- define "todo.secretEnv" -}}
{{- include (printf "%s.secretEnv" .Chart.Name) . }}
{{- end }}

{{- define "todo.secretKeyRef" -}}
valueFrom:
  secretKeyRef:
    name: {{ required (printf "%s: the Secret's name is required" .what) .name | quote }}
    key: {{ required (printf "%s: the key in the Secret is required" .what) .key | quote }}
{{- end }}

{{/* One probe from `probes.<kind>` (absent or null: no probe), on the named port `http`. */}}
{{- define "todo.probe" -}}
{{- with .probe }}
httpGet:
  path: {{ .path }}
  port: http
{{- with .initialDelaySeconds }}
initialDelaySeconds: {{ . }}
{{- end }}
periodSeconds: {{ .periodSeconds | default 10 }}
timeoutSeconds: {{ .timeoutSeconds | default 2 }}
failureThreshold: {{ .failureThreshold | default 3 }}
{{- end }}
{{- end }}

{{- define "todo.probes" -}}
{{- $probes := .Values.probes | default dict }}
{{- with $probes.startup }}
startupProbe:
  {{- include "todo.probe" (dict "probe" .) | trim | nindent 2 }}
{{- end }}
{{- with $probes.liveness }}
livenessProbe:
  {{- include "todo.probe" (dict "probe" .) | trim | nindent 2 }}
{{- end }}
{{- with $probes.readiness }}
readinessProbe:
  {{- include "todo.probe" (dict "probe" .) | trim | nindent 2 }}
{{- end }}
{{- end }}

{{/* /tmp is the only writable path (PEX_ROOT=/tmp/.pex): an emptyDir under a read-only root. */}}
{{- define "todo.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "todo.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit | default "512Mi" }}
{{- end }}

{{/* Pod-level settings shared by every pod of the chart. */}}
{{- define "todo.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
