// Package validate checks piivault's deployment files offline, as CI does:
// no cluster, no Docker engine, no network.
//
// # What is checked
//
//   - Kubernetes manifests (deploy/kubernetes) and the Helm chart
//     (deploy/helm/piivault, rendered with Helm's own engine) are decoded
//     strictly into the typed objects of k8s.io/api: an unknown field, a
//     duplicated key or a wrong type is an error, as is a kind this package
//     does not know.
//   - Pod templates follow the security rules: non-root, no privilege
//     escalation, read-only root filesystem, seccomp RuntimeDefault, every
//     capability dropped, resource limits on every container, an image tag
//     that is neither missing nor "latest", and no secret-looking environment
//     variable with an inline value.
//   - The Dockerfile is multi-stage, its bases are pinned by a tag other than
//     latest, its final stage runs as a numeric non-root user, builds with
//     CGO_ENABLED=0 and declares the data volume and a health check.
//   - The compose file decodes strictly into the subset of the Compose
//     specification it uses, and follows the same rules where they apply.
//   - Services, PodDisruptionBudgets, NetworkPolicies and ServiceMonitors
//     select something, and named target ports exist.
//
// # What is run
//
// The tests also run what the files describe, with the binary built by the
// Dockerfile's own go build line: serve --dev with the shipped policies
// (health, readiness, the image's HEALTHCHECK, SIGTERM); the operations
// runbook's vault-only restore; and, with the Vault dev server that .ci/run
// starts, the compose set-up end to end (least-privilege Vault policy,
// AppRole, demo script) and its behaviour when Vault is cut off.
//
// # Why a separate module
//
// Helm and the Kubernetes API types weigh far more than the sidecar itself;
// keeping them here keeps the sidecar's go.mod lean.
package validate
