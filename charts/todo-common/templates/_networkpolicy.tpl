{{/*
Ingress to the app pods: the other Todo Cloud pods (direct HTTP, and daprd to daprd on the
Dapr internal gRPC port), `networkPolicy.ingressFrom` peers (the ingress controller) on the
app port, `networkPolicy.metricsFrom` peers (Prometheus) on the metrics ports (the app's
own, `metricsPort`, when it has one, else its app port; and daprd's). Egress stays open: DNS, Kafka, PostgreSQL and the Dapr control plane live in other
namespaces or outside the cluster (Redpanda Cloud, Neon), which a CIDR list cannot name well.
*/}}
{{- define "todo.networkPolicy" -}}
{{- if .Values.networkPolicy.enabled -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "todo.fullname" . }}
  labels:
    {{- include "todo.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "todo.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: todo-cloud
      ports:
        - port: http
          protocol: TCP
        {{- if .Values.dapr.enabled }}
        - port: 50002
          protocol: TCP
        {{- end }}
    {{- with .Values.networkPolicy.ingressFrom }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: http
          protocol: TCP
    {{- end }}
    {{- with .Values.networkPolicy.metricsFrom }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ if $.Values.metricsPort }}metrics{{ else }}http{{ end }}
          protocol: TCP
        {{- if $.Values.dapr.enabled }}
        - port: {{ $.Values.dapr.metricsPort | default 9090 }}
          protocol: TCP
        {{- end }}
    {{- end }}
{{- end }}
{{- end }}
