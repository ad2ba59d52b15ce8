# Vault policy for piivault sidecars (the same for every sidecar sharing this
# Vault: the vault is shared by subject, so that one erasure reaches all).
# Mount names match PIIVAULT_HASHICORP_KV_MOUNT=secret and
# PIIVAULT_HASHICORP_TRANSIT_MOUNT=transit / _TRANSIT_KEY=piivault.

# KV v2: ciphertexts, wrapped data keys, tombstones. Erasure deletes the
# metadata (all versions), hence "delete" on metadata.
path "secret/data/piivault/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "secret/metadata/piivault/*" {
  capabilities = ["read", "list", "delete"]
}
path "secret/metadata/piivault" {
  capabilities = ["list"]
}

# Transit: the KEK never leaves Vault; data keys are wrapped and unwrapped here.
path "transit/encrypt/piivault" {
  capabilities = ["update"]
}
path "transit/decrypt/piivault" {
  capabilities = ["update"]
}
path "transit/rewrap/piivault" {
  capabilities = ["update"]
}
path "transit/keys/piivault" {
  capabilities = ["read"]
}

# Token lifecycle (renewal of the login token).
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
