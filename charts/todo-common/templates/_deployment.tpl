{{- define "todo.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "todo.fullname" . }}
  labels:
    {{- include "todo.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "todo.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "todo.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "todo.config" . | sha256sum }}
        {{- with (include "todo.daprAnnotations" . | trim) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "todo.serviceAccountName" . }}
      # The app never calls the Kubernetes API: no token in its container. daprd gets the
      # injector's sentry token and its own projected one (todo.daprTokenVolume).
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | default 30 }}
      {{- include "todo.podSpecCommon" . | trim | nindent 6 }}
      {{- with .Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ include "todo.name" . }}
          image: {{ include "todo.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
            {{- with .Values.dapr.appPort }}
            {{- if $.Values.dapr.enabled }}
            # On 127.0.0.1: only the pod's own sidecar reaches it.
            - name: dapr-app
              containerPort: {{ . }}
              protocol: TCP
            {{- end }}
            {{- end }}
            {{- with .Values.metricsPort }}
            - name: metrics
              containerPort: {{ . }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "todo.fullname" . }}
          env:
            {{- include "todo.secretEnv" . | trim | nindent 12 }}
            {{- with (include "todo.daprApiTokenEnv" . | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- include "todo.probes" . | trim | nindent 10 }}
          {{- with .Values.preStopSleepSeconds }}
          lifecycle:
            # Keep serving until the Service and the ingress controller have dropped this
            # pod (a rolling restart refuses no request), then SIGTERM.
            preStop:
              exec:
                command: ["sleep", {{ . | quote }}]
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "todo.tmpVolumeMount" . | nindent 12 }}
      volumes:
        {{- include "todo.tmpVolume" . | nindent 8 }}
        {{- with (include "todo.daprTokenVolume" . | trim) }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end }}
