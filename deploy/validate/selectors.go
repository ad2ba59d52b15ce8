package validate

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// RuleSelectorMatches is the rule ID of CheckSelectors.
const RuleSelectorMatches = "selector-matches"

// CheckSelectors reports Services, PodDisruptionBudgets and NetworkPolicies
// whose pod selector matches no workload's pod template, ServiceMonitors
// whose selector matches no Service, and Services whose named target port
// no selected container declares. Each of these is valid YAML that does
// nothing, the classic silent mistake of a chart.
func CheckSelectors(objs []Object) []Finding {
	var out []Finding
	add := func(o Object, format string, args ...any) {
		out = append(out, Finding{Source: o.Source, Object: o.GVK.Kind + "/" + o.Name, Rule: RuleSelectorMatches, Detail: fmt.Sprintf(format, args...)})
	}
	type pod struct {
		labels labels.Set
		spec   *corev1.PodSpec
	}
	var pods []pod
	var services []*corev1.Service
	for _, o := range objs {
		if spec := PodTemplate(o.Value); spec != nil {
			pods = append(pods, pod{labels.Set(podLabels(o.Value)), spec})
		}
		if s, ok := o.Value.(*corev1.Service); ok {
			services = append(services, s)
		}
	}
	matchPods := func(sel labels.Selector) []pod {
		var m []pod
		for _, p := range pods {
			if sel.Matches(p.labels) {
				m = append(m, p)
			}
		}
		return m
	}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.Service:
			if len(v.Spec.Selector) == 0 {
				continue
			}
			matched := matchPods(labels.SelectorFromSet(v.Spec.Selector))
			if len(matched) == 0 {
				add(o, "selector %v matches no pod template", v.Spec.Selector)
				continue
			}
			for _, sp := range v.Spec.Ports {
				if sp.TargetPort.StrVal == "" {
					continue
				}
				if !declaresPort(matched, sp.TargetPort.StrVal, func(p pod) *corev1.PodSpec { return p.spec }) {
					add(o, "targetPort %q is not a named port of any selected container", sp.TargetPort.StrVal)
				}
			}
		case *policyv1.PodDisruptionBudget:
			if sel, err := metav1.LabelSelectorAsSelector(v.Spec.Selector); err != nil || len(matchPods(sel)) == 0 {
				add(o, "selector matches no pod template (%v)", err)
			}
		case *networkingv1.NetworkPolicy:
			if sel, err := metav1.LabelSelectorAsSelector(&v.Spec.PodSelector); err != nil || len(matchPods(sel)) == 0 {
				add(o, "podSelector matches no pod template (%v)", err)
			}
		case *monitoringv1.ServiceMonitor:
			sel, err := metav1.LabelSelectorAsSelector(&v.Spec.Selector)
			n := 0
			for _, s := range services {
				if err == nil && sel.Matches(labels.Set(s.Labels)) {
					n++
					for _, ep := range v.Spec.Endpoints {
						if ep.Port != "" && !servicePortNamed(s, ep.Port) {
							add(o, "endpoint port %q is not a port of Service %s", ep.Port, s.Name)
						}
					}
				}
			}
			if n == 0 {
				add(o, "selector matches no Service (%v)", err)
			}
		}
	}
	return out
}

func podLabels(v any) map[string]string { return templateLabels(v) }

func declaresPort[T any](items []T, name string, spec func(T) *corev1.PodSpec) bool {
	for _, it := range items {
		s := spec(it)
		for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
			for _, c := range cs {
				for _, p := range c.Ports {
					if p.Name == name {
						return true
					}
				}
			}
		}
	}
	return false
}

func servicePortNamed(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}
