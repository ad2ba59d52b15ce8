package hashicorp

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
)

// AuthMethod says how the store logs in to Vault.
type AuthMethod string

const (
	// AuthToken uses the token already set on the client (VAULT_TOKEN). A
	// renewable token is renewed in the background; a token that cannot be
	// renewed any more is not replaced (there is nothing to log in with).
	AuthToken AuthMethod = "token"
	// AuthAppRole logs in at auth/<mount>/login with a role ID and secret
	// ID, renews the token in the background and logs in again when the
	// token reaches its max TTL or renewal fails.
	AuthAppRole AuthMethod = "approle"
	// AuthKubernetes logs in at auth/<mount>/login with a Kubernetes role
	// and the pod's service-account JWT, renewing and logging in again like
	// AppRole.
	AuthKubernetes AuthMethod = "kubernetes"
)

// Options configures a Store. Zero fields take the values of
// DefaultOptions.
type Options struct {
	// KVMount is the path of the KV v2 engine ("secret").
	KVMount string
	// Prefix is the folder under KVMount that holds piivault's keys
	// ("piivault"). Instances that share data use the same prefix.
	Prefix string
	// TransitMount and TransitKey name the Transit key that wraps DEKs when
	// KeyProvider is nil ("transit", "piivault").
	TransitMount string
	TransitKey   string
	// KeyProvider wraps and unwraps DEKs. Nil means Transit at
	// TransitMount/TransitKey on the same client.
	KeyProvider vault.KeyProvider

	// Auth is the login method (AuthToken).
	Auth AuthMethod
	// AuthMount is where the auth method is mounted ("approle" or
	// "kubernetes", after the method).
	AuthMount string
	// RoleID and SecretID are the AppRole credentials.
	RoleID, SecretID string
	// K8sRole is the Vault role for Kubernetes auth, and K8sJWTPath the
	// service-account token file
	// ("/var/run/secrets/kubernetes.io/serviceaccount/token").
	K8sRole, K8sJWTPath string

	// CacheTTL bounds how long a subject's record and unwrapped DEK are
	// reused without asking Vault (2 s): an erasure made through another
	// instance is visible here within CacheTTL. Negative disables caching.
	CacheTTL time.Duration
	// CacheSize caps the cached subjects (vault.DefaultDEKCacheSize).
	CacheSize int
	// RequestTimeout bounds each request to Vault (10 s).
	RequestTimeout time.Duration
	// Concurrency bounds the requests one call sends at once (16).
	Concurrency int
	// Retries bounds check-and-set retries per subject (32).
	Retries int
	// DEKBatch is how many new DEKs are wrapped in one key-provider batch
	// and kept ready for new subjects (32).
	DEKBatch int
	// Logger receives operational messages; never values, subjects or
	// tokens. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		KVMount:        "secret",
		Prefix:         "piivault",
		TransitMount:   "transit",
		TransitKey:     "piivault",
		Auth:           AuthToken,
		K8sJWTPath:     "/var/run/secrets/kubernetes.io/serviceaccount/token",
		CacheTTL:       vault.DefaultDEKCacheTTL,
		CacheSize:      vault.DefaultDEKCacheSize,
		RequestTimeout: 10 * time.Second,
		Concurrency:    16,
		Retries:        32,
		DEKBatch:       32,
		Now:            time.Now,
	}
}

// withDefaults fills the zero fields of o from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.KVMount == "" {
		o.KVMount = d.KVMount
	}
	if o.Prefix == "" {
		o.Prefix = d.Prefix
	}
	if o.TransitMount == "" {
		o.TransitMount = d.TransitMount
	}
	if o.TransitKey == "" {
		o.TransitKey = d.TransitKey
	}
	if o.Auth == "" {
		o.Auth = d.Auth
	}
	if o.AuthMount == "" && o.Auth != AuthToken {
		o.AuthMount = string(o.Auth)
	}
	if o.K8sJWTPath == "" {
		o.K8sJWTPath = d.K8sJWTPath
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = d.CacheTTL
	}
	if o.CacheSize <= 0 {
		o.CacheSize = d.CacheSize
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = d.Concurrency
	}
	if o.Retries <= 0 {
		o.Retries = d.Retries
	}
	if o.DEKBatch <= 0 {
		o.DEKBatch = d.DEKBatch
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// ClientConfig returns api.DefaultConfig() (which reads VAULT_ADDR and the
// other VAULT_* variables) with a connection pool sized for a Store: the
// default keeps only GOMAXPROCS+1 idle connections per host, so a store
// sending Concurrency requests at once from many callers would open and
// close connections all the time. idle <= 0 means 64.
func ClientConfig(idle int) *api.Config {
	if idle <= 0 {
		idle = 64
	}
	cfg := api.DefaultConfig()
	if t, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = idle
		t.MaxIdleConns = max(t.MaxIdleConns, idle)
	}
	return cfg
}
