package containerinstance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
)

// envFor resolves a container's environment: envFrom first, then env, a
// later name replacing an earlier one as in Kubernetes. Values from Secrets
// go to secureValue, which ACI never returns.
func envFor(pod *corev1.Pod, c *corev1.Container, in Inputs) ([]*armcontainerinstance.EnvironmentVariable, error) {
	type entry struct {
		value  string
		secure bool
	}
	var order []string
	vals := map[string]entry{}
	set := func(name, value string, secure bool) {
		if _, seen := vals[name]; !seen {
			order = append(order, name)
		}
		vals[name] = entry{value, secure}
	}
	for i, from := range c.EnvFrom {
		field := fmt.Sprintf("spec.containers[%s].envFrom[%d]", c.Name, i)
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := in.ConfigMaps[from.ConfigMapRef.Name]
			if !ok {
				if lo.FromPtr(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, missingInput(field, "ConfigMap %s/%s not found", pod.Namespace, from.ConfigMapRef.Name)
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k], false)
			}
		case from.SecretRef != nil:
			s, ok := in.Secrets[from.SecretRef.Name]
			if !ok {
				if lo.FromPtr(from.SecretRef.Optional) {
					continue
				}
				return nil, missingInput(field, "Secret %s/%s not found", pod.Namespace, from.SecretRef.Name)
			}
			for _, k := range sortedKeys(s.Data) {
				set(from.Prefix+k, string(s.Data[k]), true)
			}
		}
	}
	for _, e := range c.Env {
		field := fmt.Sprintf("spec.containers[%s].env[%s]", c.Name, e.Name)
		if e.ValueFrom == nil {
			set(e.Name, e.Value, false)
			continue
		}
		v, secure, ok, err := valueFrom(pod, e.ValueFrom, in, field)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v, secure)
		}
	}
	var out []*armcontainerinstance.EnvironmentVariable
	for _, name := range order {
		e := vals[name]
		ev := &armcontainerinstance.EnvironmentVariable{Name: lo.ToPtr(name)}
		if e.secure {
			ev.SecureValue = lo.ToPtr(e.value)
		} else {
			ev.Value = lo.ToPtr(e.value)
		}
		out = append(out, ev)
	}
	return out, nil
}

// valueFrom resolves one env valueFrom; ok is false for an optional
// reference that is not there.
func valueFrom(pod *corev1.Pod, src *corev1.EnvVarSource, in Inputs, field string) (value string, secure, ok bool, err error) {
	switch {
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, found := in.ConfigMaps[ref.Name]
		if found {
			if v, has := cm.Data[ref.Key]; has {
				return v, false, true, nil
			}
		}
		if lo.FromPtr(ref.Optional) {
			return "", false, false, nil
		}
		return "", false, false, missingInput(field, "key %s of ConfigMap %s/%s not found", ref.Key, pod.Namespace, ref.Name)
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, found := in.Secrets[ref.Name]
		if found {
			if v, has := s.Data[ref.Key]; has {
				return string(v), true, true, nil
			}
		}
		if lo.FromPtr(ref.Optional) {
			return "", false, false, nil
		}
		return "", false, false, missingInput(field, "key %s of Secret %s/%s not found", ref.Key, pod.Namespace, ref.Name)
	case src.FieldRef != nil:
		v, known := podField(pod, src.FieldRef.FieldPath)
		if !known {
			return "", false, false, missingInput(field, "field %s cannot be resolved before the pod runs on ACI", src.FieldRef.FieldPath)
		}
		return v, false, true, nil
	}
	return "", false, false, missingInput(field, "unsupported valueFrom")
}

// podField resolves the downward API fields known before the group runs
// (Check refuses the others: status.podIP, spec.nodeName, …).
func podField(pod *corev1.Pod, path string) (string, bool) {
	switch path {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "metadata.labels":
		return formatMap(pod.Labels), true
	case "metadata.annotations":
		return formatMap(pod.Annotations), true
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels['": pod.Labels, "metadata.annotations['": pod.Annotations} {
		if strings.HasPrefix(path, prefix) && strings.HasSuffix(path, "']") {
			return m[strings.TrimSuffix(strings.TrimPrefix(path, prefix), "']")], true
		}
	}
	return "", false
}

// volumesFor turns the pod's volumes into ACI's: emptyDir as emptyDir;
// ConfigMaps, Secrets and projected volumes as secret volumes, whose file
// contents ACI takes base64-encoded
// (learn.microsoft.com/azure/container-instances/container-instances-volume-secret).
// ACI has no ConfigMap volume; a secret volume is the read-only file volume
// it has.
func volumesFor(pod *corev1.Pod, in Inputs) ([]*armcontainerinstance.Volume, error) {
	var out []*armcontainerinstance.Volume
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		field := fmt.Sprintf("spec.volumes[%s]", v.Name)
		files := map[string][]byte{}
		var err error
		switch {
		case v.EmptyDir != nil:
			out = append(out, &armcontainerinstance.Volume{Name: lo.ToPtr(v.Name), EmptyDir: map[string]any{}})
			continue
		case v.ConfigMap != nil:
			err = configMapFiles(files, pod, in, v.ConfigMap.Name, v.ConfigMap.Items, lo.FromPtr(v.ConfigMap.Optional), field)
		case v.Secret != nil:
			err = secretFiles(files, pod, in, v.Secret.SecretName, v.Secret.Items, lo.FromPtr(v.Secret.Optional), field)
		case v.Projected != nil:
			err = projectedFiles(files, pod, in, v.Projected, field)
		default:
			return nil, missingInput(field, "volume type not supported on ACI") // Check refuses it first
		}
		if err != nil {
			return nil, err
		}
		secret := map[string]*string{}
		for _, k := range sortedKeys(files) {
			secret[k] = lo.ToPtr(base64.StdEncoding.EncodeToString(files[k]))
		}
		out = append(out, &armcontainerinstance.Volume{Name: lo.ToPtr(v.Name), Secret: secret})
	}
	return out, nil
}

func configMapFiles(files map[string][]byte, pod *corev1.Pod, in Inputs, name string, items []corev1.KeyToPath, optional bool, field string) error {
	cm, ok := in.ConfigMaps[name]
	if !ok {
		if optional {
			return nil
		}
		return missingInput(field, "ConfigMap %s/%s not found", pod.Namespace, name)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return project(files, data, items, optional, field, "ConfigMap "+pod.Namespace+"/"+name)
}

func secretFiles(files map[string][]byte, pod *corev1.Pod, in Inputs, name string, items []corev1.KeyToPath, optional bool, field string) error {
	s, ok := in.Secrets[name]
	if !ok {
		if optional {
			return nil
		}
		return missingInput(field, "Secret %s/%s not found", pod.Namespace, name)
	}
	return project(files, s.Data, items, optional, field, "Secret "+pod.Namespace+"/"+name)
}

// project copies every key, or the listed items under their paths.
func project(files, data map[string][]byte, items []corev1.KeyToPath, optional bool, field, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = v
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return missingInput(field, "key %s of %s not found", it.Key, what)
		}
		files[it.Path] = v
	}
	return nil
}

func projectedFiles(files map[string][]byte, pod *corev1.Pod, in Inputs, p *corev1.ProjectedVolumeSource, field string) error {
	for _, src := range p.Sources {
		var err error
		switch {
		case src.ConfigMap != nil:
			err = configMapFiles(files, pod, in, src.ConfigMap.Name, src.ConfigMap.Items, lo.FromPtr(src.ConfigMap.Optional), field)
		case src.Secret != nil:
			err = secretFiles(files, pod, in, src.Secret.Name, src.Secret.Items, lo.FromPtr(src.Secret.Optional), field)
		case src.DownwardAPI != nil:
			for _, it := range src.DownwardAPI.Items {
				if it.FieldRef == nil {
					return missingInput(field, "downwardAPI item %s: only fieldRef is supported", it.Path)
				}
				v, ok := podField(pod, it.FieldRef.FieldPath)
				if !ok {
					return missingInput(field, "downwardAPI field %s cannot be resolved before the pod runs on ACI", it.FieldRef.FieldPath)
				}
				files[it.Path] = []byte(v)
			}
		case src.ServiceAccountToken != nil:
			if in.ServiceAccountToken == nil {
				return missingInput(field, "a service account token is needed and no token source was given")
			}
			tok, terr := in.ServiceAccountToken(src.ServiceAccountToken.Audience, lo.FromPtrOr(src.ServiceAccountToken.ExpirationSeconds, 3600))
			if terr != nil {
				return fmt.Errorf("%s: service account token: %w", field, terr)
			}
			files[src.ServiceAccountToken.Path] = []byte(tok)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// registryCredentials reads the pod's image pull secrets
// (kubernetes.io/dockerconfigjson) into ACI's registry credentials. A
// missing pull secret is skipped, as the kubelet skips it.
func registryCredentials(pod *corev1.Pod, in Inputs) ([]*armcontainerinstance.ImageRegistryCredential, error) {
	creds := map[string]*armcontainerinstance.ImageRegistryCredential{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, ok := in.Secrets[ref.Name]
		if !ok || s.Type != corev1.SecretTypeDockerConfigJson {
			continue
		}
		var doc struct {
			Auths map[string]struct {
				Username string `json:"username"`
				Password string `json:"password"`
				Auth     string `json:"auth"`
			} `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &doc); err != nil {
			return nil, fmt.Errorf("spec.imagePullSecrets[%s]: %s is not a docker config: %w", ref.Name, ref.Name, err)
		}
		for server, a := range doc.Auths {
			user, pass := a.Username, a.Password
			if user == "" && a.Auth != "" {
				if raw, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					user, pass, _ = strings.Cut(string(raw), ":")
				}
			}
			creds[server] = &armcontainerinstance.ImageRegistryCredential{Server: lo.ToPtr(server), Username: lo.ToPtr(user), Password: lo.ToPtr(pass)}
		}
	}
	var out []*armcontainerinstance.ImageRegistryCredential
	for _, k := range sortedKeys(creds) {
		out = append(out, creds[k])
	}
	return out, nil
}

// formatMap writes labels or annotations as the downward API does: one
// key="value" line per entry, sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}
