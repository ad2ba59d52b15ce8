#!/bin/sh
# Vault side of deploy/kubernetes: run once per Vault cluster (the mounts and
# the policy) and once per service (the role), with a Vault admin token.
#
#   VAULT_ADDR=https://vault.example:8200 VAULT_TOKEN=... \
#     NAMESPACE=shop SERVICE_ACCOUNT=orders ROLE=piivault-orders sh setup.sh
#
# No static Vault token ends up in Kubernetes: the sidecar logs in with its
# pod's projected ServiceAccount token (audience "vault"), and Vault checks it
# with the TokenReview API (vault-auth-delegator.yaml).
set -eu
: "${NAMESPACE:=default}" "${SERVICE_ACCOUNT:=orders}" "${ROLE:=piivault-orders}"
here=$(cd "$(dirname "$0")" && pwd)

# Once per Vault cluster: Transit (the KEK) and KV v2 (ciphertexts, wrapped DEKs).
vault secrets list -format=json | grep -q '"transit/"' || vault secrets enable -path=transit transit
vault read transit/keys/piivault >/dev/null 2>&1 || vault write -f transit/keys/piivault type=aes256-gcm96
vault write transit/keys/piivault/config deletion_allowed=false
vault secrets list -format=json | grep -q '"secret/"' || vault secrets enable -path=secret -version=2 kv
vault policy write piivault "$here/piivault.hcl"
vault policy write piivault-operator "$here/piivault-operator.hcl"

# Once per Vault cluster: Kubernetes auth. Inside the cluster Vault finds the
# API server itself; from outside, give kubernetes_host, kubernetes_ca_cert and
# a token_reviewer_jwt of the "vault-auth" ServiceAccount.
vault auth list -format=json | grep -q '"kubernetes/"' || vault auth enable kubernetes
if [ -n "${KUBERNETES_HOST:-}" ]; then
  vault write auth/kubernetes/config kubernetes_host="$KUBERNETES_HOST" \
    kubernetes_ca_cert=@"${KUBERNETES_CA_CERT:?}" token_reviewer_jwt="${TOKEN_REVIEWER_JWT:?}"
fi

# Once per service: bind the role to the pod's ServiceAccount, in its
# namespace, for tokens issued for the audience "vault". Tokens are short and
# renewed by the sidecar; a pod that is gone cannot renew.
vault write "auth/kubernetes/role/$ROLE" \
  bound_service_account_names="$SERVICE_ACCOUNT" \
  bound_service_account_namespaces="$NAMESPACE" \
  audience=vault \
  token_policies=piivault \
  token_ttl=1h token_max_ttl=4h
echo "setup: role $ROLE bound to $NAMESPACE/$SERVICE_ACCOUNT with policy piivault"
