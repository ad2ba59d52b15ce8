{{/* Chart name. */}}
{{- define "piivault.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<chart>, or the release name when it contains the chart name. */}}
{{- define "piivault.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "piivault.selectorLabels" -}}
app.kubernetes.io/name: {{ include "piivault.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "piivault.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "piivault.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "piivault.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "piivault.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference; "latest" is refused. */}}
{{- define "piivault.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if eq (lower $tag) "latest" -}}
{{- fail "image.tag: \"latest\" is not allowed; pin a version (and preferably image.digest)" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "piivault.dataVolumeName" -}}data{{- end -}}

{{- define "piivault.policyConfigMap" -}}
{{- if .Values.policy.existingConfigMap -}}
{{- .Values.policy.existingConfigMap -}}
{{- else if .Values.policy.files -}}
{{- printf "%s-policy" (include "piivault.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "piivault.tokensSecret" -}}
{{- if .Values.tokens.existingSecret -}}
{{- .Values.tokens.existingSecret -}}
{{- else if .Values.tokens.entries -}}
{{- printf "%s-tokens" (include "piivault.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Checks that would otherwise produce a pod that cannot work. */}}
{{- define "piivault.validate" -}}
{{- $v := .Values -}}
{{- if and (eq $v.workload.kind "Deployment") (ne (int $v.workload.replicas) 1) -}}
{{- fail "workload.replicas must be 1 with workload.kind=Deployment: the event log has one writer. Use workload.kind=StatefulSet, where each replica owns its own log." -}}
{{- end -}}
{{- if and $v.workload.create (not $v.app.containers) -}}
{{- fail "app.containers must list at least one container (your service)" -}}
{{- end -}}
{{- if eq $v.piivault.backend "hashicorp" -}}
{{- if not $v.piivault.hashicorp.addr -}}
{{- fail "piivault.hashicorp.addr is required with the hashicorp backend" -}}
{{- end -}}
{{- if and (ne $v.piivault.hashicorp.auth "kubernetes") (not $v.piivault.hashicorp.credentialsSecret) -}}
{{- fail "piivault.hashicorp.credentialsSecret is required with approle or token auth (credentials never go in values)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
piivault.sidecar renders the piivault native sidecar container (an init
container with restartPolicy: Always). Its context needs .Values (this
chart's values), .Release and .Chart (Name, AppVersion). A parent chart that
renders its own Deployment and has this chart as a dependency includes it
under initContainers, and "piivault.volumes" under volumes: README.md,
"Injecting into an existing Deployment".
*/}}
{{- define "piivault.sidecar" -}}
{{- $v := .Values -}}
{{- $p := $v.piivault -}}
- name: piivault
  image: {{ include "piivault.image" . }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  restartPolicy: Always
  args:
    - serve
    - --vault-backend={{ $p.backend }}
    {{- if include "piivault.policyConfigMap" . }}
    - --policy-dir=/etc/piivault/policy
    {{- end }}
    {{- with $p.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    - name: PIIVAULT_LISTEN
      value: {{ printf "0.0.0.0:%d" (int $p.port) | quote }}
    - name: PIIVAULT_DATA
      value: /data
    - name: PIIVAULT_LOG_LEVEL
      value: {{ $p.logLevel | quote }}
    - name: PIIVAULT_LOG_FORMAT
      value: {{ $p.logFormat | quote }}
    - name: PIIVAULT_SHUTDOWN_TIMEOUT
      value: {{ $p.shutdownTimeout | quote }}
    {{- if include "piivault.tokensSecret" . }}
    - name: PIIVAULT_TOKENS_FILE
      value: /etc/piivault/tokens/tokens.yaml
    {{- end }}
    {{- if and (eq $p.backend "embedded") $p.embedded.kekSecret }}
    - name: PIIVAULT_KEK_FILE
      value: /etc/piivault/kek/kek.key
    {{- end }}
    {{- if eq $p.backend "hashicorp" }}
    {{- $h := $p.hashicorp }}
    - name: PIIVAULT_HASHICORP_ADDR
      value: {{ $h.addr | quote }}
    - name: PIIVAULT_HASHICORP_AUTH
      value: {{ $h.auth | quote }}
    {{- if eq $h.auth "kubernetes" }}
    - name: PIIVAULT_HASHICORP_K8S_ROLE
      value: {{ default (include "piivault.fullname" .) $h.k8sRole | quote }}
    {{- else if eq $h.auth "approle" }}
    - name: PIIVAULT_HASHICORP_ROLE_ID
      valueFrom:
        secretKeyRef:
          name: {{ $h.credentialsSecret }}
          key: role-id
    - name: PIIVAULT_HASHICORP_SECRET_ID
      valueFrom:
        secretKeyRef:
          name: {{ $h.credentialsSecret }}
          key: secret-id
    {{- else if eq $h.auth "token" }}
    - name: PIIVAULT_HASHICORP_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ $h.credentialsSecret }}
          key: token
    {{- end }}
    - name: PIIVAULT_HASHICORP_KV_MOUNT
      value: {{ $h.kvMount | quote }}
    - name: PIIVAULT_HASHICORP_TRANSIT_MOUNT
      value: {{ $h.transitMount | quote }}
    - name: PIIVAULT_HASHICORP_TRANSIT_KEY
      value: {{ $h.transitKey | quote }}
    {{- if $h.caConfigMap }}
    - name: VAULT_CACERT
      value: /etc/piivault/vault-ca/ca.crt
    {{- end }}
    {{- end }}
    - name: GOMEMLIMIT
      valueFrom:
        resourceFieldRef:
          containerName: piivault
          resource: limits.memory
    {{- with $p.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: piivault
      containerPort: {{ $p.port }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /healthz
      port: piivault
    {{- toYaml $p.startupProbe | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: piivault
    {{- toYaml $p.readinessProbe | nindent 4 }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: piivault
    {{- toYaml $p.livenessProbe | nindent 4 }}
  resources:
    {{- toYaml $p.resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: {{ include "piivault.dataVolumeName" . }}
      mountPath: /data
    - name: piivault-tmp
      mountPath: /tmp
    {{- if include "piivault.policyConfigMap" . }}
    - name: piivault-policy
      mountPath: /etc/piivault/policy
      readOnly: true
    {{- end }}
    {{- if include "piivault.tokensSecret" . }}
    - name: piivault-tokens
      mountPath: /etc/piivault/tokens
      readOnly: true
    {{- end }}
    {{- if and (eq $p.backend "embedded") $p.embedded.kekSecret }}
    - name: piivault-kek
      mountPath: /etc/piivault/kek
      readOnly: true
    {{- end }}
    {{- if eq $p.backend "hashicorp" }}
    {{- if eq $p.hashicorp.auth "kubernetes" }}
    - name: piivault-vault-token
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
    {{- end }}
    {{- if $p.hashicorp.caConfigMap }}
    - name: piivault-vault-ca
      mountPath: /etc/piivault/vault-ca
      readOnly: true
    {{- end }}
    {{- end }}
{{- end -}}

{{/* piivault.volumes: the pod volumes the sidecar mounts (the data volume
comes from the PVC or the StatefulSet's volumeClaimTemplates). */}}
{{- define "piivault.volumes" -}}
{{- $v := .Values -}}
{{- $p := $v.piivault -}}
- name: piivault-tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ $p.tmpSizeLimit }}
{{- with include "piivault.policyConfigMap" . }}
- name: piivault-policy
  configMap:
    name: {{ . }}
{{- end }}
{{- with include "piivault.tokensSecret" . }}
- name: piivault-tokens
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- if and (eq $p.backend "embedded") $p.embedded.kekSecret }}
- name: piivault-kek
  secret:
    secretName: {{ $p.embedded.kekSecret }}
    defaultMode: 0440
{{- end }}
{{- if eq $p.backend "hashicorp" }}
{{- if eq $p.hashicorp.auth "kubernetes" }}
- name: piivault-vault-token
  projected:
    defaultMode: 0440
    sources:
      - serviceAccountToken:
          audience: {{ $p.hashicorp.tokenAudience }}
          expirationSeconds: {{ $p.hashicorp.tokenExpirationSeconds }}
          path: token
{{- end }}
{{- with $p.hashicorp.caConfigMap }}
- name: piivault-vault-ca
  configMap:
    name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* piivault.appContainers: the app's containers with the default security
context where they set none, and PIIVAULT_URL / PIIVAULT_TOKEN added. */}}
{{- define "piivault.appContainers" -}}
{{- $root := . -}}
{{- range $orig := .Values.app.containers }}
{{- $c := deepCopy $orig }}
{{- if not (hasKey $c "securityContext") }}
{{- $_ := set $c "securityContext" $root.Values.containerSecurityContext }}
{{- end }}
{{- $env := default list (get $c "env") }}
{{- if $root.Values.app.injectURL }}
{{- $env = append $env (dict "name" "PIIVAULT_URL" "value" (printf "http://127.0.0.1:%d" (int $root.Values.piivault.port))) }}
{{- end }}
{{- with $root.Values.tokens.client.existingSecret }}
{{- $env = append $env (dict "name" "PIIVAULT_TOKEN" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $root.Values.tokens.client.key))) }}
{{- end }}
{{- if $env }}
{{- $_ := set $c "env" $env }}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/* piivault.podSpec: the pod spec shared by the Deployment and the StatefulSet. */}}
{{- define "piivault.podSpec" -}}
{{- $v := .Values -}}
serviceAccountName: {{ include "piivault.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ $v.workload.terminationGracePeriodSeconds }}
{{- with $v.workload.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
initContainers:
  {{- include "piivault.sidecar" . | nindent 2 }}
  {{- with $v.app.initContainers }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
containers:
  {{- include "piivault.appContainers" . | nindent 2 }}
volumes:
  {{- include "piivault.volumes" . | nindent 2 }}
  {{- if eq $v.workload.kind "Deployment" }}
  - name: {{ include "piivault.dataVolumeName" . }}
    persistentVolumeClaim:
      claimName: {{ default (printf "%s-data" (include "piivault.fullname" .)) $v.persistence.existingClaim }}
  {{- end }}
  {{- with $v.app.volumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $v.workload.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.workload.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.workload.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.workload.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
