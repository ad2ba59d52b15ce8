# Vault policy for piivault sidecars: the same for every sidecar sharing this
# Vault (the vault is shared by subject, so that one erasure reaches all).
# Paths follow vault/hashicorp's layout: <kvMount>/piivault/s/<subject>.
# Mount names match PIIVAULT_HASHICORP_KV_MOUNT=secret and
# PIIVAULT_HASHICORP_TRANSIT_MOUNT=transit / _TRANSIT_KEY=piivault.

# KV v2: one record per subject (wrapped data key, sealed values, or the
# erasure marker), written with check-and-set.
path "secret/data/piivault/*" {
  capabilities = ["create", "read", "update"]
}
# Erasure destroys every older version of the record (KV v2 destroy removes
# the data from Vault's storage, unlike a soft delete).
path "secret/destroy/piivault/*" {
  capabilities = ["update"]
}
# Version lists and subject listing. No "delete": piivault never deletes
# metadata (that would reset the version counter; see vault/hashicorp/doc.go).
path "secret/metadata/piivault/*" {
  capabilities = ["read", "list"]
}
# Blind index (optional, per class): entries live under .../piivault/b/ and
# are destroyed with their subject, which needs delete on their metadata.
path "secret/metadata/piivault/b/*" {
  capabilities = ["read", "list", "delete"]
}

# Transit: the KEK never leaves Vault; data keys are wrapped and unwrapped
# here (batched), and rewrapped after a KEK rotation.
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
