{{/*
The Dapr sidecar annotations of a pod: the ONLY place they are written. Guarded by
`dapr.enabled`; the app port is the container port the probes use, the app API token comes
from the same Secret the app reads (`appApiToken.existingSecret`, key `token` for Dapr).
*/}}
{{- define "todo.daprAnnotations" -}}
{{- if .Values.dapr.enabled }}
{{- $dapr := .Values.dapr }}
dapr.io/enabled: "true"
dapr.io/app-id: {{ required "dapr.appId is required when dapr.enabled" $dapr.appId | quote }}
dapr.io/app-port: {{ .Values.containerPort | quote }}
dapr.io/app-protocol: "http"
dapr.io/config: {{ required "dapr.config is required when dapr.enabled" $dapr.config | quote }}
dapr.io/app-token-secret: {{ required "appApiToken.existingSecret is required when dapr.enabled" .Values.appApiToken.existingSecret | quote }}
dapr.io/enable-app-health-check: "true"
dapr.io/app-health-check-path: "/healthz"
dapr.io/enable-metrics: "true"
dapr.io/metrics-port: {{ $dapr.metricsPort | default 9090 | quote }}
dapr.io/log-as-json: "true"
dapr.io/log-level: {{ $dapr.logLevel | default "info" | quote }}
dapr.io/graceful-shutdown-seconds: {{ $dapr.gracefulShutdownSeconds | default 20 | quote }}
dapr.io/sidecar-cpu-request: {{ $dapr.sidecar.resources.requests.cpu | quote }}
dapr.io/sidecar-memory-request: {{ $dapr.sidecar.resources.requests.memory | quote }}
dapr.io/sidecar-cpu-limit: {{ $dapr.sidecar.resources.limits.cpu | quote }}
dapr.io/sidecar-memory-limit: {{ $dapr.sidecar.resources.limits.memory | quote }}
{{- end }}
{{- end }}
