package validate

import (
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestHelmLint runs `helm lint`'s own rules (Chart.yaml, values and schema,
// template rendering, YAML validity, resource names, deprecated APIs for
// the target Kubernetes version) on the chart with its defaults and each
// example values file. Warnings fail as errors do; information does not.
func TestHelmLint(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(DefaultRenderOptions().KubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vf := range []string{"", "hashicorp-values.yaml", "statefulset-values.yaml", "embedded-kek-values.yaml"} {
		name := vf
		if name == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir, readValues(t, vf), "shop", kv)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint (info): %s", m)
				}
			}
		})
	}
}
