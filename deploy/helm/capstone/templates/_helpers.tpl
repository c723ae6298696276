{{- define "capstone.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "capstone.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "capstone.secretName" -}}
{{- if .Values.secrets.existingSecret -}}{{ .Values.secrets.existingSecret }}{{- else -}}{{ include "capstone.fullname" . }}{{- end -}}
{{- end -}}

{{/* The environment, settings file and secret volumes every Capstone container shares. */}}
{{- define "capstone.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "capstone.fullname" . }}
  - secretRef:
      name: {{ include "capstone.secretName" . }}
env:
  - name: CAPSTONE_HOME
    value: /var/lib/capstone
  - name: CAPSTONE_CONFIG
    value: /etc/capstone/capstone.toml
{{- end -}}

{{- define "capstone.mounts" -}}
- name: home
  mountPath: /var/lib/capstone
- name: settings
  mountPath: /etc/capstone
  readOnly: true
- name: secrets
  mountPath: /run/secrets/capstone
  readOnly: true
{{- end -}}

{{- define "capstone.volumes" -}}
- name: settings
  configMap:
    name: {{ include "capstone.fullname" . }}-settings
- name: secrets
  secret:
    secretName: {{ include "capstone.secretName" . }}
    defaultMode: 0400
    items:
      - key: graph-certificate.pem
        path: graph-certificate.pem
{{- end -}}
