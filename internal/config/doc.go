// Package config loads the configuration of the piivault sidecar.
//
// # Sources and precedence
//
// A setting comes from, lowest precedence first: its default, the YAML (or
// JSON) config file, the PIIVAULT_* environment variable, then the command
// line flag. The config file is named by --config or PIIVAULT_CONFIG. Every
// setting has one dotted YAML key, one environment variable (the Env*
// constants) and, for the common ones, one flag; the Settings table is the
// single list of them, and the README's configuration reference mirrors it.
//
// # Validation
//
// Load validates the result and names the bad key and where its value came
// from, for example
//
//	config: vault.backend = "vualt" (from env PIIVAULT_VAULT_BACKEND): must be embedded or hashicorp
//
// Unknown keys in the file are errors, so a typo is not silently ignored.
//
// # Tokens file
//
// The tokens file (tokensFile, PIIVAULT_TOKENS_FILE) lists the bearer tokens
// the sidecar accepts, as SHA-256 digests only: a YAML or JSON list of
// {hash, principal, roles, attributes}. LoadTokens reads it; AppendToken adds
// one entry, which is what `piivault token create` does. The client
// certificates file (tls.clientCertsFile) maps verified client certificates
// (SPIFFE ID or CN) to principals the same way; LoadClientCerts reads it.
//
// # Values that are not strings
//
// Durations accept Go syntax and a day suffix ("30s", "720h", "30d").
// Retention rules are one string of comma-separated "class=period",
// "EventType/class=period" or "EventType/=period" rules, so that they fit an
// environment variable as well as the file.
package config
