{{/* The release's full name, at most 63 characters. */}}
{{- define "azkarpenter.fullname" -}}
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

{{- define "azkarpenter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "azkarpenter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "azkarpenter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "azkarpenter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "azkarpenter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The chart's pods, as a labelSelector. */}}
{{- define "azkarpenter.podSelector" -}}
matchLabels:
  {{- include "azkarpenter.selectorLabels" . | nindent 2 }}
{{- end -}}

{{/* ADDITIONAL_TAGS: key=value pairs, sorted. */}}
{{- define "azkarpenter.additionalTags" -}}
{{- $tags := list -}}
{{- range $k, $v := .Values.settings.additionalTags -}}
{{- $tags = append $tags (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $tags -}}
{{- end -}}

{{/* REPAIR_POLICIES: ConditionType=Status:Toleration,… */}}
{{- define "azkarpenter.repairPolicies" -}}
{{- $p := list -}}
{{- range .Values.settings.repairPolicies -}}
{{- $p = append $p (printf "%s=%s:%s" .conditionType .conditionStatus .toleration) -}}
{{- end -}}
{{- join "," $p -}}
{{- end -}}

{{- define "azkarpenter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "azkarpenter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "azkarpenter.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* karpenter core's FEATURE_GATES string. */}}
{{- define "azkarpenter.featureGates" -}}
{{- $g := .Values.featureGates -}}
NodeRepair={{ $g.nodeRepair }},ReservedCapacity={{ $g.reservedCapacity }},SpotToSpotConsolidation={{ $g.spotToSpotConsolidation }},NodeOverlay={{ $g.nodeOverlay }},StaticCapacity={{ $g.staticCapacity }},CapacityBuffer={{ $g.capacityBuffer }}
{{- end -}}

{{/* The leader election Lease; core's default name, kept explicit so RBAC can name it. */}}
{{- define "azkarpenter.leaseName" -}}
{{ include "azkarpenter.fullname" . }}-leader-election
{{- end -}}

{{/*
Non-empty when nodes are given CAs to trust (the node-ca ConfigMap exists).
*/}}
{{- define "azkarpenter.nodeCA" -}}
{{- if or .Values.nodeProxy.trustedCA .Values.nodeCustomCACerts }}true{{ end }}
{{- end }}
