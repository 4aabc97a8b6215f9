{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "canary.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed with the chart name unless it contains it. */}}
{{- define "canary.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "canary.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "canary.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object but app.kubernetes.io/component (each object says its own). */}}
{{- define "canary.commonLabels" -}}
helm.sh/chart: {{ include "canary.chart" . }}
{{ include "canary.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: canary
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "canary.labels" -}}
{{ include "canary.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "canary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "canary.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "canary.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* A PodDisruptionBudget is rendered for several replicas, or when forced. */}}
{{- define "canary.pdbEnabled" -}}
{{- if or (gt (int .Values.replicas) 1) .Values.podDisruptionBudget.enabled }}true{{ end }}
{{- end }}

{{/*
Namespaced permissions: exactly what the operator uses in a namespace it watches.
Rendered into the ClusterRole (all namespaces) or into one Role per watched namespace.
Nothing on secrets, configmaps, pods or workloads.
*/}}
{{- define "canary.namespacedRules" -}}
# Rollouts: kopf lists and watches them (it writes nothing); the operator adds and
# removes its finalizer and acknowledges commands with merge patches.
# No update/delete.
- apiGroups: [canary.dev]
  resources: [rollouts]
  verbs: [get, list, watch, patch]
# Rollout status is a subresource (written once per change, by patch); get for re-reads.
# list/watch do not exist on subresources.
- apiGroups: [canary.dev]
  resources: [rollouts/status]
  verbs: [get, patch]
# The user's routes: read, and guarded JSON Patch of backendRef weights — never
# create, update (PUT) or delete.
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes, grpcroutes]
  verbs: [get, list, watch, patch]
# The route evaluator reads every object that decides the effective split: Gateways
# (listeners, allowedRoutes) and ReferenceGrants (cross-namespace backends).
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways, referencegrants]
  verbs: [get, list, watch]
# ... and the backend Services (ports) and their EndpointSlices (is anything behind
# them). Read-only.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
# Events on Rollouts (the operator's own, one per decision; kopf posts none). patch: a repeated event bumps the count of the existing one.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/*
Read-only namespaced permissions for rbac.readOnlyNamespaces (namespaced mode only):
where a shared Gateway or a cross-namespace backend lives (`--read-namespace`).
*/}}
{{- define "canary.readOnlyRules" -}}
# The evaluator's caches list and watch every kind that decides a split here too: the
# Gateway, the other routes attached to it (they compete for the same listeners),
# ReferenceGrants, and the Services/EndpointSlices of cross-namespace backends.
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways, referencegrants, httproutes, grpcroutes]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
{{- end }}

{{/* Cluster-scoped reads: these cannot be granted by a namespaced Role. */}}
{{- define "canary.clusterScopedRules" -}}
# GatewayClasses: the evaluator checks a Gateway's class is accepted and ours to judge.
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses]
  verbs: [get, list, watch]
# Namespaces: the evaluator matches Gateway allowedRoutes namespace selectors against
# namespace labels; kopf lists/watches them to follow --namespace patterns.
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
# CRDs: kopf scans and watches CustomResourceDefinitions to discover the served
# version of rollouts.canary.dev and notice (un)installation. Read-only.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
{{- end }}
