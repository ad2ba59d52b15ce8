#!/bin/sh
# One-shot set-up of a Vault dev server for piivault. Idempotent: safe to run
# again against the same server.
set -eu

echo "vault-init: waiting for $VAULT_ADDR"
i=0
until vault status >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -gt 60 ] && { echo "vault-init: Vault not reachable" >&2; exit 1; }
  sleep 1
done

# 1. Transit: the key-encryption key that wraps every subject's data key.
if ! vault secrets list -format=json | grep -q '"transit/"'; then
  vault secrets enable -path=transit transit
fi
if ! vault read transit/keys/piivault >/dev/null 2>&1; then
  vault write -f transit/keys/piivault type=aes256-gcm96
fi
# Refuse deletion of the KEK by accident (deleting it shreds every subject).
vault write transit/keys/piivault/config deletion_allowed=false

# 2. KV v2 at secret/ (dev mode mounts it already; a real server does not).
if ! vault secrets list -format=json | grep -q '"secret/"'; then
  vault secrets enable -path=secret -version=2 kv
fi

# 3. piivault's policy and an AppRole with a fixed role ID / secret ID (dev
#    only: in production the secret ID comes from your orchestrator, or use
#    Kubernetes auth, deploy/kubernetes).
vault policy write piivault /init/piivault.hcl
vault policy write piivault-operator /init/piivault-operator.hcl
if ! vault auth list -format=json | grep -q '"approle/"'; then
  vault auth enable approle
fi
vault write auth/approle/role/piivault \
  token_policies=piivault token_ttl=1h token_max_ttl=24h secret_id_ttl=0 secret_id_num_uses=0
vault write auth/approle/role/piivault/role-id role_id="$PIIVAULT_APPROLE_ROLE_ID"
if ! vault write -f auth/approle/role/piivault/secret-id/lookup secret_id="$PIIVAULT_APPROLE_SECRET_ID" 2>/dev/null | grep -q secret_id_accessor; then
  vault write auth/approle/role/piivault/custom-secret-id secret_id="$PIIVAULT_APPROLE_SECRET_ID"
fi

echo "vault-init: transit/keys/piivault, kv-v2 secret/, policy piivault, approle piivault: ready"
