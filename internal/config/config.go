package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Environment variables, one per setting.
const (
	EnvConfig       = "PIIVAULT_CONFIG"
	EnvListen       = "PIIVAULT_LISTEN"
	EnvData         = "PIIVAULT_DATA"
	EnvDevRootToken = "PIIVAULT_DEV_ROOT_TOKEN"
	EnvVaultBackend = "PIIVAULT_VAULT_BACKEND"
	EnvPolicyDir    = "PIIVAULT_POLICY_DIR"
	EnvPolicyBundle = "PIIVAULT_POLICY_BUNDLE"
	EnvPolicyOnly   = "PIIVAULT_POLICY_REPLACE_DEFAULT"
	EnvLogLevel     = "PIIVAULT_LOG_LEVEL"
	EnvLogFormat    = "PIIVAULT_LOG_FORMAT"
	EnvKEKFile      = "PIIVAULT_KEK_FILE"
	EnvTokensFile   = "PIIVAULT_TOKENS_FILE"
	EnvShutdown     = "PIIVAULT_SHUTDOWN_TIMEOUT"

	EnvErasureDeadline = "PIIVAULT_ERASURE_DEADLINE"
	EnvRetention       = "PIIVAULT_RETENTION"
	EnvBlindIndexKey   = "PIIVAULT_BLIND_INDEX_KEY_FILE"
	EnvUI              = "PIIVAULT_UI"

	EnvSubscriptionsMax          = "PIIVAULT_SUBSCRIPTIONS_MAX"
	EnvSubscriptionsPerPrincipal = "PIIVAULT_SUBSCRIPTIONS_PER_PRINCIPAL"

	EnvTLSCertFile     = "PIIVAULT_TLS_CERT_FILE"
	EnvTLSKeyFile      = "PIIVAULT_TLS_KEY_FILE"
	EnvTLSClientCAFile = "PIIVAULT_TLS_CLIENT_CA_FILE"
	EnvClientCertsFile = "PIIVAULT_CLIENT_CERTS_FILE"

	EnvHashiCorpAddr         = "PIIVAULT_HASHICORP_ADDR"
	EnvHashiCorpAuth         = "PIIVAULT_HASHICORP_AUTH"
	EnvHashiCorpToken        = "PIIVAULT_HASHICORP_TOKEN"
	EnvHashiCorpRoleID       = "PIIVAULT_HASHICORP_ROLE_ID"
	EnvHashiCorpSecretID     = "PIIVAULT_HASHICORP_SECRET_ID"
	EnvHashiCorpK8sRole      = "PIIVAULT_HASHICORP_K8S_ROLE"
	EnvHashiCorpKVMount      = "PIIVAULT_HASHICORP_KV_MOUNT"
	EnvHashiCorpTransitMount = "PIIVAULT_HASHICORP_TRANSIT_MOUNT"
	EnvHashiCorpTransitKey   = "PIIVAULT_HASHICORP_TRANSIT_KEY"
)

// Backends of the vault.
const (
	BackendEmbedded  = "embedded"
	BackendHashiCorp = "hashicorp"
)

// Auth methods of HashiCorp Vault.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Defaults.
const (
	DefaultListen = "127.0.0.1:8200"
	DefaultData   = "./piivault-data"
	// DefaultSubscriptionsMax and DefaultSubscriptionsPerPrincipal bound
	// the open SSE subscriptions, in all and of one principal.
	DefaultSubscriptionsMax          = 1024
	DefaultSubscriptionsPerPrincipal = 64
)

// Config is the sidecar's configuration after all sources were merged.
type Config struct {
	Listen string
	Data   string
	// Dev is --dev: embedded vault, generated KEK, dev root token.
	Dev bool
	// DevRootToken is PIIVAULT_DEV_ROOT_TOKEN; only used with Dev. It is
	// deliberately not a file key: a root token does not belong in a file.
	DevRootToken string
	VaultBackend string
	HashiCorp    HashiCorp
	PolicyDir    string // empty: the shipped default policy only
	PolicyBundle string // an OPA bundle (.tar.gz or folder), empty: none
	// PolicyReplaceDefault drops the shipped policy: PolicyDir or
	// PolicyBundle must then define it all.
	PolicyReplaceDefault bool
	LogLevel             string // debug, info, warn, error
	LogFormat            string // json, text
	UI                   string // true (default) or false: serve the compliance console at /ui/
	KEKFile              string // empty: <data>/kek.key
	TokensFile           string // empty: <data>/tokens.yaml
	ShutdownTimeout      time.Duration
	TLS                  TLS
	// Subscriptions bounds the open SSE subscriptions.
	Subscriptions Subscriptions

	// ErasureDeadline is the time allowed from an erasure request to its
	// completion (GDPR Art. 12(3): one month).
	ErasureDeadline time.Duration
	// Retention lists the retention rules; empty means nothing expires.
	Retention []RetentionRule
	// BlindIndexKeyFile holds the HMAC key (at least 32 bytes) of the
	// blind index that finds a subject by e-mail or phone; empty turns the
	// blind index off.
	BlindIndexKeyFile string

	// Origin says where each key's value came from ("default", "file
	// F", "env X", "flag --f"), for messages.
	Origin map[string]string
}

// Subscriptions bounds the open SSE subscriptions: Max in all, PerPrincipal
// of any one principal (so one client cannot take every slot).
type Subscriptions struct {
	Max          int
	PerPrincipal int
}

// RetentionRule keeps the values of an event type and/or PII class for
// Period after the event was recorded; an empty EventType or Class matches
// any.
type RetentionRule struct {
	EventType, Class string
	Period           time.Duration
}

// TLS is the listener's TLS and mTLS settings. With CertFile and KeyFile
// the sidecar serves HTTPS; with ClientCAFile too it verifies client
// certificates it is given (bearer tokens keep working), and
// ClientCertsFile maps verified certificates to principals.
type TLS struct {
	CertFile, KeyFile, ClientCAFile, ClientCertsFile string
}

// Enabled reports whether the listener serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// HashiCorp is the HashiCorp Vault backend's settings.
type HashiCorp struct {
	Addr, Auth, Token, RoleID, SecretID, K8sRole string
	KVMount, TransitMount, TransitKey            string
}

// Default returns the configuration with nothing set.
func Default() Config {
	return Config{
		Listen:          DefaultListen,
		Data:            DefaultData,
		VaultBackend:    BackendEmbedded,
		LogLevel:        "info",
		LogFormat:       "json",
		UI:              "true",
		ShutdownTimeout: 30 * time.Second,
		Subscriptions:   Subscriptions{Max: DefaultSubscriptionsMax, PerPrincipal: DefaultSubscriptionsPerPrincipal},
		ErasureDeadline: 30 * 24 * time.Hour,
		HashiCorp: HashiCorp{
			Auth: AuthToken, KVMount: "secret", TransitMount: "transit", TransitKey: "piivault",
		},
		Origin: map[string]string{},
	}
}

// Setting is one configuration key and its sources.
type Setting struct {
	Key  string // dotted YAML key
	Env  string
	Flag string // without dashes; empty when there is no flag
	Help string
	// Secret settings are never printed.
	Secret bool
	field  func(*Config) *string
}

// Default returns the setting's value when nothing sets it, as text; empty
// when it has none (or it is derived from another setting, as tokensFile).
func (s Setting) Default() string {
	d := Default()
	switch s.Key {
	case "shutdownTimeout":
		return d.ShutdownTimeout.String()
	case "subscriptions.max":
		return strconv.Itoa(d.Subscriptions.Max)
	case "subscriptions.perPrincipal":
		return strconv.Itoa(d.Subscriptions.PerPrincipal)
	case "erasure.deadline":
		if d.ErasureDeadline%(24*time.Hour) == 0 {
			return fmt.Sprintf("%dd", d.ErasureDeadline/(24*time.Hour))
		}
		return d.ErasureDeadline.String()
	}
	if s.field == nil || s.Secret {
		return ""
	}
	return *s.field(&d)
}

// Settings lists every setting, in the order the reference documents them.
var Settings = []Setting{
	{Key: "listen", Env: EnvListen, Flag: "listen", Help: "address to listen on, host:port", field: func(c *Config) *string { return &c.Listen }},
	{Key: "data", Env: EnvData, Flag: "data", Help: "data folder (event log, embedded vault, key, tokens)", field: func(c *Config) *string { return &c.Data }},
	{Key: "vault.backend", Env: EnvVaultBackend, Flag: "vault-backend", Help: "embedded or hashicorp", field: func(c *Config) *string { return &c.VaultBackend }},
	{Key: "policy.dir", Env: EnvPolicyDir, Flag: "policy-dir", Help: "folder of .rego policies extending the shipped default (hot-reloaded)", field: func(c *Config) *string { return &c.PolicyDir }},
	{Key: "policy.bundle", Env: EnvPolicyBundle, Flag: "policy-bundle", Help: "OPA bundle (.tar.gz or folder) extending the shipped default (hot-reloaded)", field: func(c *Config) *string { return &c.PolicyBundle }},
	{Key: "policy.replaceDefault", Env: EnvPolicyOnly, Flag: "policy-replace-default", Help: "true: drop the shipped policy; policy.dir or policy.bundle must define data.piivault.authz.authorize and .field"},
	{Key: "log.level", Env: EnvLogLevel, Flag: "log-level", Help: "debug, info, warn or error", field: func(c *Config) *string { return &c.LogLevel }},
	{Key: "log.format", Env: EnvLogFormat, Flag: "log-format", Help: "json or text", field: func(c *Config) *string { return &c.LogFormat }},
	{Key: "tokensFile", Env: EnvTokensFile, Flag: "tokens-file", Help: "bearer tokens file (SHA-256 hashes only); default <data>/tokens.yaml", field: func(c *Config) *string { return &c.TokensFile }},
	{Key: "kekFile", Env: EnvKEKFile, Flag: "kek-file", Help: "local key-encryption key file (embedded vault); default <data>/kek.key", field: func(c *Config) *string { return &c.KEKFile }},
	{Key: "shutdownTimeout", Env: EnvShutdown, Flag: "shutdown-timeout", Help: "how long a graceful shutdown waits for in-flight requests, e.g. 30s"},
	{Key: "erasure.deadline", Env: EnvErasureDeadline, Flag: "erasure-deadline", Help: "time allowed from an erasure request to its completion, e.g. 720h or 30d"},
	{Key: "retention", Env: EnvRetention, Flag: "retention", Help: "retention rules, comma separated: class=period, EventType/class=period or EventType/=period, e.g. ip_address=90d"},
	{Key: "blindIndex.keyFile", Env: EnvBlindIndexKey, Flag: "blind-index-key-file", Help: "file of at least 32 random bytes: HMAC key of the blind index (find a subject by e-mail or phone); empty: off", field: func(c *Config) *string { return &c.BlindIndexKeyFile }},
	{Key: "subscriptions.max", Env: EnvSubscriptionsMax, Flag: "subscriptions-max", Help: "most SSE subscriptions open at once; one more is a 503"},
	{Key: "subscriptions.perPrincipal", Env: EnvSubscriptionsPerPrincipal, Flag: "subscriptions-per-principal", Help: "most SSE subscriptions one principal (token or certificate identity) may hold open; one more is a 503 naming this limit"},
	{Key: "ui", Env: EnvUI, Flag: "ui", Help: "true or false: serve the compliance console (web page) at /ui/", field: func(c *Config) *string { return &c.UI }},
	{Key: "tls.certFile", Env: EnvTLSCertFile, Flag: "tls-cert-file", Help: "PEM certificate: serve HTTPS", field: func(c *Config) *string { return &c.TLS.CertFile }},
	{Key: "tls.keyFile", Env: EnvTLSKeyFile, Flag: "tls-key-file", Help: "PEM private key of tls.certFile", field: func(c *Config) *string { return &c.TLS.KeyFile }},
	{Key: "tls.clientCAFile", Env: EnvTLSClientCAFile, Flag: "tls-client-ca-file", Help: "PEM CA bundle: verify client certificates (mTLS)", field: func(c *Config) *string { return &c.TLS.ClientCAFile }},
	{Key: "tls.clientCertsFile", Env: EnvClientCertsFile, Flag: "client-certs-file", Help: "YAML list of {match: SPIFFE ID or CN, principal, roles}: client certificates as principals", field: func(c *Config) *string { return &c.TLS.ClientCertsFile }},
	{Key: "vault.hashicorp.addr", Env: EnvHashiCorpAddr, Help: "HashiCorp Vault address, e.g. https://vault:8200", field: func(c *Config) *string { return &c.HashiCorp.Addr }},
	{Key: "vault.hashicorp.auth", Env: EnvHashiCorpAuth, Help: "token, approle or kubernetes", field: func(c *Config) *string { return &c.HashiCorp.Auth }},
	{Key: "vault.hashicorp.token", Env: EnvHashiCorpToken, Help: "Vault token (auth token)", Secret: true, field: func(c *Config) *string { return &c.HashiCorp.Token }},
	{Key: "vault.hashicorp.roleId", Env: EnvHashiCorpRoleID, Help: "AppRole role ID (auth approle)", field: func(c *Config) *string { return &c.HashiCorp.RoleID }},
	{Key: "vault.hashicorp.secretId", Env: EnvHashiCorpSecretID, Help: "AppRole secret ID (auth approle)", Secret: true, field: func(c *Config) *string { return &c.HashiCorp.SecretID }},
	{Key: "vault.hashicorp.k8sRole", Env: EnvHashiCorpK8sRole, Help: "Kubernetes auth role (auth kubernetes)", field: func(c *Config) *string { return &c.HashiCorp.K8sRole }},
	{Key: "vault.hashicorp.kvMount", Env: EnvHashiCorpKVMount, Help: "KV v2 mount holding the values", field: func(c *Config) *string { return &c.HashiCorp.KVMount }},
	{Key: "vault.hashicorp.transitMount", Env: EnvHashiCorpTransitMount, Help: "Transit mount wrapping the data keys", field: func(c *Config) *string { return &c.HashiCorp.TransitMount }},
	{Key: "vault.hashicorp.transitKey", Env: EnvHashiCorpTransitKey, Help: "Transit key name", field: func(c *Config) *string { return &c.HashiCorp.TransitKey }},
}

// Sources is the input of Load.
type Sources struct {
	// Getenv reads the environment (os.Getenv in main, a map in tests).
	Getenv func(string) string
	// ConfigFile is the value of --config, if given; else PIIVAULT_CONFIG.
	ConfigFile string
	// Flags holds the flags set on the command line, by flag name
	// (without dashes).
	Flags map[string]string
	// Dev is --dev.
	Dev bool
}

// Load merges the sources, fills derived defaults and validates.
func Load(src Sources) (Config, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := Default()
	c.Dev = src.Dev
	for _, s := range Settings {
		c.Origin[s.Key] = "default"
	}
	file := src.ConfigFile
	if file == "" {
		file = getenv(EnvConfig)
	}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return Config{}, fmt.Errorf("config: read config file: %w", err)
		}
		values, err := parseFile(raw)
		if err != nil {
			return Config{}, fmt.Errorf("%w: config file %s: %w", ErrInvalid, file, err)
		}
		for k, v := range values {
			if err := c.set(k, v, "file "+file); err != nil {
				return Config{}, err
			}
		}
	}
	for _, s := range Settings {
		if v := getenv(s.Env); v != "" {
			if err := c.set(s.Key, v, "env "+s.Env); err != nil {
				return Config{}, err
			}
		}
	}
	for _, s := range Settings {
		if v, ok := src.Flags[s.Flag]; ok && s.Flag != "" {
			if err := c.set(s.Key, v, "flag --"+s.Flag); err != nil {
				return Config{}, err
			}
		}
	}
	c.DevRootToken = getenv(EnvDevRootToken)
	if c.KEKFile == "" {
		c.KEKFile = filepath.Join(c.Data, "kek.key")
	}
	if c.TokensFile == "" {
		c.TokensFile = filepath.Join(c.Data, "tokens.yaml")
	}
	return c, c.Validate()
}

func lookup(key string) (Setting, bool) {
	for _, s := range Settings {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

func (c *Config) set(key, value, origin string) error {
	s, ok := lookup(key)
	if !ok {
		return fmt.Errorf("%w: unknown key %q in %s (known keys: %s)", ErrInvalid, key, origin, strings.Join(Keys(), ", "))
	}
	c.Origin[key] = origin
	if key == "policy.replaceDefault" {
		b, err := strconv.ParseBool(value)
		if err != nil {
			return c.bad(key, value, "must be true or false")
		}
		c.PolicyReplaceDefault = b
		return nil
	}
	if key == "erasure.deadline" {
		d, err := parseDuration(value)
		if err != nil || d <= 0 {
			return c.bad(key, value, "must be a positive duration such as 720h or 30d")
		}
		c.ErasureDeadline = d
		return nil
	}
	if key == "retention" {
		rules, err := ParseRetention(value)
		if err != nil {
			return c.bad(key, value, err.Error())
		}
		c.Retention = rules
		return nil
	}
	if key == "subscriptions.max" || key == "subscriptions.perPrincipal" {
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n <= 0 {
			return c.bad(key, value, "must be a positive whole number")
		}
		if key == "subscriptions.max" {
			c.Subscriptions.Max = n
		} else {
			c.Subscriptions.PerPrincipal = n
		}
		return nil
	}
	if key == "shutdownTimeout" {
		d, err := parseDuration(value)
		if err != nil || d <= 0 {
			return c.bad(key, value, "must be a positive duration such as 30s")
		}
		c.ShutdownTimeout = d
		return nil
	}
	*s.field(c) = value
	return nil
}

// Keys returns every dotted key, sorted.
func Keys() []string {
	keys := make([]string, 0, len(Settings))
	for _, s := range Settings {
		keys = append(keys, s.Key)
	}
	sort.Strings(keys)
	return keys
}

// bad builds a validation error naming the key, its value (unless secret)
// and its origin.
func (c *Config) bad(key, value, why string) error {
	s, _ := lookup(key)
	shown := strconv.Quote(value)
	if s.Secret {
		shown = "(secret)"
	}
	return fmt.Errorf("%w: %s = %s (from %s): %s", ErrInvalid, key, shown, c.Origin[key], why)
}

// Validate checks every setting and names the first bad key.
func (c *Config) Validate() error {
	if c.Origin == nil {
		c.Origin = map[string]string{}
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		return c.bad("listen", c.Listen, "must be host:port, e.g. 127.0.0.1:8200")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return c.bad("listen", c.Listen, "port must be a number from 0 to 65535")
	}
	if strings.TrimSpace(c.Data) == "" {
		return c.bad("data", c.Data, "must name a folder")
	}
	switch c.VaultBackend {
	case BackendEmbedded:
	case BackendHashiCorp:
		if c.Dev {
			return c.bad("vault.backend", c.VaultBackend, "--dev always uses the embedded vault; drop --dev or the hashicorp backend")
		}
		if err := c.validateHashiCorp(); err != nil {
			return err
		}
	default:
		return c.bad("vault.backend", c.VaultBackend, "must be embedded or hashicorp")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c.bad("log.level", c.LogLevel, "must be debug, info, warn or error")
	}
	if c.UI != "true" && c.UI != "false" {
		return c.bad("ui", c.UI, "must be true or false")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return c.bad("log.format", c.LogFormat, "must be json or text")
	}
	if c.PolicyDir != "" {
		if st, err := os.Stat(c.PolicyDir); err != nil || !st.IsDir() {
			return c.bad("policy.dir", c.PolicyDir, "must be an existing folder of .rego files")
		}
	}
	if c.PolicyBundle != "" {
		if _, err := os.Stat(c.PolicyBundle); err != nil {
			return c.bad("policy.bundle", c.PolicyBundle, "must be an existing .tar.gz file or bundle folder")
		}
	}
	if c.PolicyReplaceDefault && c.PolicyDir == "" && c.PolicyBundle == "" {
		return c.bad("policy.replaceDefault", "true", "needs policy.dir or policy.bundle: without them no policy is left")
	}
	if c.BlindIndexKeyFile != "" {
		if st, err := os.Stat(c.BlindIndexKeyFile); err != nil || st.Size() < 32 {
			return c.bad("blindIndex.keyFile", c.BlindIndexKeyFile, "must be a readable file of at least 32 bytes")
		}
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if c.Subscriptions.Max <= 0 {
		return c.bad("subscriptions.max", strconv.Itoa(c.Subscriptions.Max), "must be positive")
	}
	if c.Subscriptions.PerPrincipal <= 0 {
		return c.bad("subscriptions.perPrincipal", strconv.Itoa(c.Subscriptions.PerPrincipal), "must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		return c.bad("shutdownTimeout", c.ShutdownTimeout.String(), "must be positive")
	}
	return nil
}

func (c *Config) validateTLS() error {
	t := c.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return c.bad("tls.keyFile", "", "is required with tls.certFile")
	case t.KeyFile != "" && t.CertFile == "":
		return c.bad("tls.certFile", "", "is required with tls.keyFile")
	case t.ClientCAFile != "" && t.CertFile == "":
		return c.bad("tls.clientCAFile", t.ClientCAFile, "needs tls.certFile and tls.keyFile: client certificates only exist over TLS")
	case t.ClientCertsFile != "" && t.ClientCAFile == "":
		return c.bad("tls.clientCertsFile", t.ClientCertsFile, "needs tls.clientCAFile to verify the certificates it maps")
	}
	for key, p := range map[string]string{"tls.certFile": t.CertFile, "tls.keyFile": t.KeyFile, "tls.clientCAFile": t.ClientCAFile, "tls.clientCertsFile": t.ClientCertsFile} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return c.bad(key, p, "must be a readable file")
		}
	}
	return nil
}

func (c *Config) validateHashiCorp() error {
	h := c.HashiCorp
	if h.Addr == "" {
		return c.bad("vault.hashicorp.addr", h.Addr, "is required with vault.backend hashicorp")
	}
	if !strings.HasPrefix(h.Addr, "http://") && !strings.HasPrefix(h.Addr, "https://") {
		return c.bad("vault.hashicorp.addr", h.Addr, "must start with http:// or https://")
	}
	switch h.Auth {
	case AuthToken:
		if h.Token == "" {
			return c.bad("vault.hashicorp.token", "", "is required with vault.hashicorp.auth token")
		}
	case AuthAppRole:
		if h.RoleID == "" {
			return c.bad("vault.hashicorp.roleId", "", "is required with vault.hashicorp.auth approle")
		}
		if h.SecretID == "" {
			return c.bad("vault.hashicorp.secretId", "", "is required with vault.hashicorp.auth approle")
		}
	case AuthKubernetes:
		if h.K8sRole == "" {
			return c.bad("vault.hashicorp.k8sRole", "", "is required with vault.hashicorp.auth kubernetes")
		}
	default:
		return c.bad("vault.hashicorp.auth", h.Auth, "must be token, approle or kubernetes")
	}
	for key, v := range map[string]string{"vault.hashicorp.kvMount": h.KVMount, "vault.hashicorp.transitMount": h.TransitMount, "vault.hashicorp.transitKey": h.TransitKey} {
		if v == "" || strings.ContainsAny(v, " ") {
			return c.bad(key, v, "must be a non-empty name without spaces")
		}
	}
	return nil
}

// parseFile flattens a YAML (or JSON, a subset of YAML) mapping to dotted
// keys with scalar values.
func parseFile(raw []byte) (map[string]string, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]string{}, nil // an empty file sets nothing
		}
		return nil, err
	}
	out := map[string]string{}
	if len(root.Content) == 0 {
		return out, nil
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of keys", doc.Line)
	}
	var walk func(prefix string, n *yaml.Node) error
	walk = func(prefix string, n *yaml.Node) error {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			switch v.Kind {
			case yaml.MappingNode:
				if err := walk(key, v); err != nil {
					return err
				}
			case yaml.ScalarNode:
				if _, ok := lookup(key); !ok {
					return fmt.Errorf("line %d: unknown key %q (known keys: %s)", k.Line, key, strings.Join(Keys(), ", "))
				}
				if v.Tag == "!!null" {
					continue
				}
				out[key] = v.Value
			default:
				return fmt.Errorf("line %d: key %q: want a single value", k.Line, key)
			}
		}
		return nil
	}
	return out, walk("", doc)
}

// parseDuration is time.ParseDuration plus a "d" (24 h) suffix.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// ParseRetention parses retention rules: comma-separated
// "class=period", "EventType/class=period" or "EventType/=period", where a
// period is a Go duration or a number of days ("90d").
func ParseRetention(s string) ([]RetentionRule, error) {
	var out []RetentionRule
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sel, period, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("rule %q: want class=period or EventType/class=period", part)
		}
		var r RetentionRule
		if t, cl, ok := strings.Cut(sel, "/"); ok {
			r.EventType, r.Class = strings.TrimSpace(t), strings.TrimSpace(cl)
		} else {
			r.Class = strings.TrimSpace(sel)
		}
		if r.EventType == "" && r.Class == "" {
			return nil, fmt.Errorf("rule %q: names neither an event type nor a class", part)
		}
		d, err := parseDuration(strings.TrimSpace(period))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("rule %q: period must be positive, such as 2160h or 90d", part)
		}
		r.Period = d
		out = append(out, r)
	}
	return out, nil
}
