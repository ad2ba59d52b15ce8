package hashicorp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
)

// auth keeps the client's token valid: it logs in (AppRole, Kubernetes),
// renews the token with an api.LifetimeWatcher, and logs in again when the
// token cannot be renewed any more. With AuthToken it only renews.
type auth struct {
	client *api.Client
	opts   Options
	log    *slog.Logger

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	logins   atomic.Int64
	renewals atomic.Int64
}

// AuthStats counts what the background authentication did.
type AuthStats struct {
	Logins   int64 // successful logins, the first one included
	Renewals int64 // successful token renewals
}

func newAuth(client *api.Client, opts Options) *auth {
	return &auth{
		client: client,
		opts:   opts,
		log:    opts.Logger,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// start logs in (or checks the given token) and starts renewal in the
// background. It fails with vault.ErrUnavailable if Vault cannot be reached
// or refuses the credentials, and with vault.ErrInvalid for bad options.
func (a *auth) start(ctx context.Context) error {
	var login func(context.Context) (*api.Secret, error)
	var secret *api.Secret
	switch a.opts.Auth {
	case AuthToken:
		if a.client.Token() == "" {
			close(a.done)
			return fmt.Errorf("token auth: the client has no token (set VAULT_TOKEN): %w", vault.ErrInvalid)
		}
		s, err := a.lookupSelf(ctx)
		if err != nil {
			close(a.done)
			return err
		}
		secret = s
	case AuthAppRole:
		if a.opts.RoleID == "" || a.opts.SecretID == "" {
			close(a.done)
			return fmt.Errorf("approle auth: role ID and secret ID are required: %w", vault.ErrInvalid)
		}
		login = a.loginAppRole
	case AuthKubernetes:
		if a.opts.K8sRole == "" {
			close(a.done)
			return fmt.Errorf("kubernetes auth: role is required: %w", vault.ErrInvalid)
		}
		login = a.loginKubernetes
	default:
		close(a.done)
		return fmt.Errorf("unknown auth method %q: %w", a.opts.Auth, vault.ErrInvalid)
	}
	if login != nil {
		s, err := a.login(ctx, login)
		if err != nil {
			close(a.done)
			return err
		}
		secret = s
	}
	go a.keepAlive(secret, login)
	return nil
}

// close stops renewal. It does not revoke the token: other instances may
// share it (token auth), and a login token expires on its own.
func (a *auth) close() {
	a.stopOnce.Do(func() { close(a.stop) })
	<-a.done
}

func (a *auth) stats() AuthStats {
	return AuthStats{Logins: a.logins.Load(), Renewals: a.renewals.Load()}
}

// lookupSelf turns the client's token into a secret the watcher can renew.
func (a *auth) lookupSelf(ctx context.Context) (*api.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	s, err := a.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("token auth: look up token: %w", classify(err))
	}
	renewable, _ := s.TokenIsRenewable()
	ttl, _ := s.TokenTTL()
	return &api.Secret{Auth: &api.SecretAuth{
		ClientToken:   a.client.Token(),
		Renewable:     renewable,
		LeaseDuration: int(ttl / time.Second),
	}}, nil
}

func (a *auth) login(ctx context.Context, login func(context.Context) (*api.Secret, error)) (*api.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	s, err := login(ctx)
	if err != nil {
		return nil, err
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return nil, fmt.Errorf("%s login: no token in answer: %w", a.opts.Auth, vault.ErrUnavailable)
	}
	a.client.SetToken(s.Auth.ClientToken)
	a.logins.Add(1)
	a.log.Info("hashicorp vault: logged in", "method", string(a.opts.Auth), "ttl", time.Duration(s.Auth.LeaseDuration)*time.Second)
	return s, nil
}

// loginClient is a copy of the client without a token: login endpoints
// must not see an expired token.
func (a *auth) loginClient() (*api.Client, error) {
	c, err := a.client.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone client: %w", err)
	}
	c.ClearToken()
	return c, nil
}

func (a *auth) loginAppRole(ctx context.Context) (*api.Secret, error) {
	c, err := a.loginClient()
	if err != nil {
		return nil, err
	}
	s, err := c.Logical().WriteWithContext(ctx, "auth/"+strings.Trim(a.opts.AuthMount, "/")+"/login", map[string]interface{}{
		"role_id":   a.opts.RoleID,
		"secret_id": a.opts.SecretID,
	})
	if err != nil {
		return nil, fmt.Errorf("approle login: %w", classify(err))
	}
	return s, nil
}

func (a *auth) loginKubernetes(ctx context.Context) (*api.Secret, error) {
	jwt, err := os.ReadFile(a.opts.K8sJWTPath)
	if err != nil {
		return nil, fmt.Errorf("kubernetes login: read service-account token: %w", vault.ErrUnavailable)
	}
	c, err := a.loginClient()
	if err != nil {
		return nil, err
	}
	s, err := c.Logical().WriteWithContext(ctx, "auth/"+strings.Trim(a.opts.AuthMount, "/")+"/login", map[string]interface{}{
		"role": a.opts.K8sRole,
		"jwt":  strings.TrimSpace(string(jwt)),
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes login: %w", classify(err))
	}
	return s, nil
}

// keepAlive renews secret's token until it cannot be renewed, then logs in
// again (when there is a login), forever, until close. With token auth a
// failed renewal (Vault down) is retried with backoff; only a token that
// reached its max TTL is given up on, since there is nothing to log in
// with.
func (a *auth) keepAlive(secret *api.Secret, login func(context.Context) (*api.Secret, error)) {
	defer close(a.done)
	backoff := 100 * time.Millisecond
	sleep := func() bool {
		select {
		case <-a.stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
		return true
	}
	for {
		var renewErr error
		switch {
		case secret == nil:
			// The last login or lookup failed: try again below.
		case secret.Auth != nil && secret.Auth.Renewable && secret.Auth.LeaseDuration > 0:
			renewErr = a.watch(secret)
		case secret.Auth != nil && secret.Auth.LeaseDuration > 0 && login != nil:
			// Not renewable: log in again at about two thirds of the TTL.
			t := time.NewTimer(time.Duration(secret.Auth.LeaseDuration) * time.Second * 2 / 3)
			select {
			case <-a.stop:
				t.Stop()
				return
			case <-t.C:
			}
		default:
			// A token without TTL (root, or not renewable with token
			// auth): nothing to do.
			<-a.stop
			return
		}
		select {
		case <-a.stop:
			return
		default:
		}
		if login == nil {
			if secret != nil && renewErr == nil {
				a.log.Warn("hashicorp vault: the token reached its max TTL and token auth cannot log in again; requests will fail once it expires")
				<-a.stop
				return
			}
			// Renewal failed (Vault down?): look the token up again.
			if !sleep() {
				return
			}
			s, err := a.lookupSelf(context.Background())
			if err != nil {
				a.log.Warn("hashicorp vault: token lookup failed, retrying", "err", err, "in", backoff)
				secret = nil
				continue
			}
			backoff = 100 * time.Millisecond
			secret = s
			continue
		}
		s, err := a.login(context.Background(), login)
		if err != nil {
			a.log.Warn("hashicorp vault: login failed, retrying", "method", string(a.opts.Auth), "err", err, "in", backoff)
			secret = nil
			if !sleep() {
				return
			}
			continue
		}
		backoff = 100 * time.Millisecond
		secret = s
	}
}

// watch runs an api.LifetimeWatcher on secret until the token cannot be
// renewed any more (nil: max TTL reached) or renewal fails (the error), or
// close (nil).
func (a *auth) watch(secret *api.Secret) error {
	w, err := a.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		a.log.Warn("hashicorp vault: cannot watch the token", "err", err)
		return err
	}
	go w.Start()
	defer w.Stop()
	for {
		select {
		case <-a.stop:
			return nil
		case err := <-w.DoneCh():
			if err != nil {
				err = classify(err)
				a.log.Warn("hashicorp vault: token renewal failed", "err", err)
				return err
			}
			a.log.Info("hashicorp vault: token reached its max TTL")
			return nil
		case r := <-w.RenewCh():
			a.renewals.Add(1)
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				a.log.Debug("hashicorp vault: token renewed", "ttl", time.Duration(r.Secret.Auth.LeaseDuration)*time.Second)
			}
		}
	}
}
