{{/*
The Dapr sidecar annotations of a pod: the ONLY place they are written. Guarded by
`dapr.enabled`. The app port is `dapr.appPort` (the app's listener for its own sidecar,
on 127.0.0.1) or else the container port the probes use; the app API token comes from the
same Secret the app reads (`appApiToken.existingSecret`, key `token` for Dapr); the
sidecar's own API requires the token of `dapr.apiToken.existingSecret` (key `token`),
which the app reads as DAPR_API_TOKEN. daprd alone mounts a service-account token
(`todo.daprTokenVolume`): the app container has none.
*/}}
{{- define "todo.daprAnnotations" -}}
{{- if .Values.dapr.enabled }}
{{- $dapr := .Values.dapr }}
dapr.io/enabled: "true"
dapr.io/app-id: {{ required "dapr.appId is required when dapr.enabled" $dapr.appId | quote }}
dapr.io/app-port: {{ $dapr.appPort | default .Values.containerPort | quote }}
dapr.io/app-protocol: "http"
dapr.io/config: {{ required "dapr.config is required when dapr.enabled" $dapr.config | quote }}
dapr.io/app-token-secret: {{ required "appApiToken.existingSecret is required when dapr.enabled" .Values.appApiToken.existingSecret | quote }}
dapr.io/api-token-secret: {{ required "dapr.apiToken.existingSecret is required when dapr.enabled" $dapr.apiToken.existingSecret | quote }}
dapr.io/volume-mounts: "dapr-kube-api:/var/run/secrets/kubernetes.io/serviceaccount"
dapr.io/enable-app-health-check: "true"
dapr.io/app-health-check-path: "/healthz"
dapr.io/app-health-probe-interval: {{ dig "appHealth" "probeSeconds" 1 $dapr | quote }}
dapr.io/app-health-threshold: {{ dig "appHealth" "threshold" 15 $dapr | quote }}
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

{{/* The sidecar's token for the Kubernetes API (its secret store), mounted by daprd only. */}}
{{- define "todo.daprTokenVolume" -}}
{{- if .Values.dapr.enabled }}
- name: dapr-kube-api
  projected:
    defaultMode: 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- end }}
{{- end }}

{{/* DAPR_API_TOKEN for the app container: what it sends to its sidecar. */}}
{{- define "todo.daprApiTokenEnv" -}}
{{- if .Values.dapr.enabled }}
- name: DAPR_API_TOKEN
  {{- include "todo.secretKeyRef" (dict "what" "dapr.apiToken" "name" .Values.dapr.apiToken.existingSecret "key" "token") | nindent 2 }}
{{- end }}
{{- end }}
