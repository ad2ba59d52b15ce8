package validate

import (
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestCheckSelectorsRejects: each selector broken in turn is reported.
func TestCheckSelectorsRejects(t *testing.T) {
	good := render(t, readValues(t, "hashicorp-values.yaml"))
	if f := CheckSelectors(good); len(f) != 0 {
		t.Fatalf("the hashicorp rendering already fails: %v", f)
	}
	tests := []struct {
		name   string
		break_ func(o Object)
	}{
		{"service selector", func(o Object) {
			if s, ok := o.Value.(*corev1.Service); ok {
				s.Spec.Selector = map[string]string{"app.kubernetes.io/name": "typo"}
			}
		}},
		{"service target port", func(o Object) {
			if s, ok := o.Value.(*corev1.Service); ok {
				s.Spec.Ports[0].TargetPort = intstr.FromString("metrics")
			}
		}},
		{"pdb selector", func(o Object) {
			if p, ok := o.Value.(*policyv1.PodDisruptionBudget); ok {
				p.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
			}
		}},
		{"networkpolicy selector", func(o Object) {
			if n, ok := o.Value.(*networkingv1.NetworkPolicy); ok {
				n.Spec.PodSelector.MatchLabels = map[string]string{"app": "other"}
			}
		}},
		{"servicemonitor selector", func(o Object) {
			if m, ok := o.Value.(*monitoringv1.ServiceMonitor); ok {
				m.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
			}
		}},
		{"servicemonitor port", func(o Object) {
			if m, ok := o.Value.(*monitoringv1.ServiceMonitor); ok {
				m.Spec.Endpoints[0].Port = "http-metrics"
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, readValues(t, "hashicorp-values.yaml"))
			for _, o := range objs {
				tt.break_(o)
			}
			got := CheckSelectors(objs)
			if !slices.ContainsFunc(got, func(f Finding) bool { return f.Rule == RuleSelectorMatches }) {
				t.Fatalf("CheckSelectors after breaking the %s = %v, want a finding", tt.name, got)
			}
		})
	}
}
