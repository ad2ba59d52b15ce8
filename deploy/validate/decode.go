package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest: where it came from and its typed value
// (a pointer to a k8s.io/api struct, such as *appsv1.Deployment).
type Object struct {
	Source string // file name, and document index when a file holds several
	GVK    schema.GroupVersionKind
	Name   string
	Value  any
}

// kinds maps every apiVersion/kind piivault's deployment files may contain
// to a constructor of its typed object. A kind missing here fails decoding,
// so a typo in apiVersion or kind cannot slip through as "unstructured".
var kinds = map[schema.GroupVersionKind]func() any{
	{Version: "v1", Kind: "ConfigMap"}:                                       func() any { return new(corev1.ConfigMap) },
	{Version: "v1", Kind: "Secret"}:                                          func() any { return new(corev1.Secret) },
	{Version: "v1", Kind: "Service"}:                                         func() any { return new(corev1.Service) },
	{Version: "v1", Kind: "ServiceAccount"}:                                  func() any { return new(corev1.ServiceAccount) },
	{Version: "v1", Kind: "PersistentVolumeClaim"}:                           func() any { return new(corev1.PersistentVolumeClaim) },
	{Version: "v1", Kind: "Pod"}:                                             func() any { return new(corev1.Pod) },
	{Version: "v1", Kind: "Namespace"}:                                       func() any { return new(corev1.Namespace) },
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                       func() any { return new(appsv1.Deployment) },
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                      func() any { return new(appsv1.StatefulSet) },
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:                        func() any { return new(appsv1.DaemonSet) },
	{Group: "batch", Version: "v1", Kind: "Job"}:                             func() any { return new(batchv1.Job) },
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:            func() any { return new(policyv1.PodDisruptionBudget) },
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:       func() any { return new(networkingv1.NetworkPolicy) },
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}:        func() any { return new(rbacv1.Role) },
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}: func() any { return new(rbacv1.RoleBinding) },
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}: func() any { return new(rbacv1.ClusterRole) },
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}: func() any {
		return new(rbacv1.ClusterRoleBinding)
	},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}:  func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: func() any { return new(monitoringv1.ServiceMonitor) },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"}:     func() any { return new(monitoringv1.PodMonitor) },
}

// SplitDocuments splits a multi-document YAML stream at "---" lines and
// drops documents that hold nothing but comments or whitespace.
func SplitDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split yaml documents: %w", err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("split yaml documents: %w", err)
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
			continue
		}
		docs = append(docs, doc)
	}
}

// DecodeStrict decodes every document of data into its typed Kubernetes
// object. Unknown fields, duplicate keys, wrong types and unknown kinds are
// errors; source names the file in messages.
func DecodeStrict(source string, data []byte) ([]Object, error) {
	docs, err := SplitDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	objs := make([]Object, 0, len(docs))
	for i, doc := range docs {
		src := source
		if len(docs) > 1 {
			src = fmt.Sprintf("%s#%d", source, i)
		}
		obj, err := decodeOne(src, doc)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func decodeOne(src string, doc []byte) (Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return Object{}, fmt.Errorf("%s: %w: %v", src, ErrStrictDecode, err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return Object{}, fmt.Errorf("%s: %w", src, ErrNoTypeMeta)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w: %v", src, ErrUnknownKind, err)
	}
	gvk := gv.WithKind(tm.Kind)
	newObj, ok := kinds[gvk]
	if !ok {
		return Object{}, fmt.Errorf("%s: %w: %s", src, ErrUnknownKind, gvk)
	}
	v := newObj()
	// UnmarshalStrict converts YAML to JSON (refusing duplicate keys) and
	// decodes with DisallowUnknownFields: a misspelt or misplaced field
	// fails here instead of being silently dropped by the API server.
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return Object{}, fmt.Errorf("%s: %s: %w: %v", src, gvk.Kind, ErrStrictDecode, err)
	}
	name := ""
	if m, ok := v.(metav1.Object); ok {
		name = m.GetName()
	}
	return Object{Source: src, GVK: gvk, Name: name, Value: v}, nil
}
