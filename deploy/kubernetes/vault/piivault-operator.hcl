# Vault policy for the operator who rotates piivault's key-encryption key
# (docs/operations.md, "KEK rotation"). Not given to the sidecars.
path "transit/keys/piivault/rotate" {
  capabilities = ["update"]
}
path "transit/keys/piivault/config" {
  capabilities = ["update"]
}
path "transit/keys/piivault" {
  capabilities = ["read"]
}
path "transit/rewrap/piivault" {
  capabilities = ["update"]
}
