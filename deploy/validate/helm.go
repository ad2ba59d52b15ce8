package validate

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// RenderOptions name the release a chart is rendered for.
type RenderOptions struct {
	ReleaseName string
	Namespace   string
	KubeVersion string // such as "v1.33.0"; the chart's kubeVersion is checked against it
	// SkipSchemaValidation renders as `helm install --skip-schema-validation`
	// does, to prove the templates' own checks hold without the schema.
	SkipSchemaValidation bool
}

// DefaultRenderOptions renders release "orders" in namespace "shop" for
// Kubernetes 1.33.
func DefaultRenderOptions() RenderOptions {
	return RenderOptions{ReleaseName: "orders", Namespace: "shop", KubeVersion: "v1.33.0"}
}

// RenderChart renders the chart in dir with values (merged over the
// chart's values.yaml, as `helm template -f` does) using Helm's own engine
// in strict mode (a reference to a missing value is an error), after
// validating the values against values.schema.json. It returns the
// manifests by template path, without NOTES.txt and empty outputs.
func RenderChart(dir string, values map[string]any, opts RenderOptions) (map[string]string, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	return RenderLoaded(chrt, values, opts)
}

// RenderLoaded is RenderChart for a chart already loaded.
func RenderLoaded(chrt *chart.Chart, values map[string]any, opts RenderOptions) (map[string]string, error) {
	if err := chrt.Validate(); err != nil {
		return nil, fmt.Errorf("validate chart: %w", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("parse kube version: %w", err)
	}
	caps.KubeVersion = *kv
	if c := chrt.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, kv.Version) {
		return nil, fmt.Errorf("chart needs Kubernetes %s, rendering for %s", c, kv.Version)
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, values); err != nil {
		return nil, fmt.Errorf("process dependencies: %w", err)
	}
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, values, chartutil.ReleaseOptions{
		Name: opts.ReleaseName, Namespace: opts.Namespace, Revision: 1, IsInstall: true,
	}, caps, opts.SkipSchemaValidation)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Engine{Strict: true}.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	for name, body := range out {
		if path.Base(name) == "NOTES.txt" || strings.TrimSpace(body) == "" {
			delete(out, name)
		}
	}
	return out, nil
}

// DecodeRendered decodes every rendered manifest strictly, in a stable order.
func DecodeRendered(rendered map[string]string) ([]Object, error) {
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []Object
	for _, n := range names {
		o, err := DecodeStrict(n, []byte(rendered[n]))
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	return objs, nil
}
