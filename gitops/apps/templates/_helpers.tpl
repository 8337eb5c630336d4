{{- define "apps.environment" -}}
{{- required "environment is required (gitops/envs/<env>/apps.yaml)" .Values.environment }}
{{- end }}

{{- define "apps.labels" -}}
app.kubernetes.io/part-of: todo-cloud
app.kubernetes.io/managed-by: argocd
todo-cloud.dev/environment: {{ include "apps.environment" . }}
{{- end }}

{{/* The tag of a service image: images.yaml must set it (a SHA that CD pushed). */}}
{{- define "apps.imageTag" -}}
{{- $service := index .root.Values .service }}
{{- required (printf "%s.image.tag is required: gitops/envs/%s/images.yaml" .service .root.Values.environment) $service.image.tag | toString }}
{{- end }}

{{/*
A service chart's `image`: the tag, and with `imageRegistry` (a bootstrap parameter, like
repoURL) the repository <imageRegistry>/todo-<service> instead of the chart's own.
*/}}
{{- define "apps.image" -}}
tag: {{ include "apps.imageTag" . | quote }}
{{- with .root.Values.imageRegistry }}
repository: {{ printf "%s/todo-%s" . $.service | quote }}
{{- end }}
{{- end }}

{{/*
One child Application: chart path, release name, sync wave, value files (the chart's
profile, then the environment's own file) and extra values (the image tag).
*/}}
{{- define "apps.application" -}}
{{- $root := .root -}}
{{- $env := include "apps.environment" $root -}}
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ $env }}-{{ .chart }}
  namespace: {{ $root.Values.argocdNamespace }}
  labels:
    {{- include "apps.labels" $root | nindent 4 }}
  annotations:
    argocd.argoproj.io/sync-wave: {{ .wave | quote }}
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: {{ $root.Values.project }}
  source:
    repoURL: {{ $root.Values.repoURL }}
    targetRevision: {{ $root.Values.targetRevision }}
    path: charts/{{ .chart }}
    helm:
      releaseName: {{ .chart }}
      valueFiles:
        - values-{{ $root.Values.profile }}.yaml
        - ../../gitops/envs/{{ $env }}/{{ .envFile }}
      {{- with .values }}
      valuesObject:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  destination:
    server: {{ $root.Values.destination.server }}
    namespace: {{ $root.Values.destination.namespace }}
  syncPolicy:
    {{- toYaml $root.Values.syncPolicy | nindent 4 }}
{{- end }}
