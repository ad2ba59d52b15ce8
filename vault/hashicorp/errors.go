package hashicorp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
)

// errCorrupt marks a record this package cannot read: written by something
// else, or by a newer format. It is reported as vault.ErrUnavailable, never
// as a wrong answer.
var errCorrupt = fmt.Errorf("record not understood: %w", vault.ErrUnavailable)

// classify maps an error of the Vault client to vault.ErrUnavailable: the
// network failed, Vault is sealed, on standby, answered 5xx, or refused the
// token (403). The message keeps Vault's own error text and status but never
// the request URL, which names the subject.
func classify(err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("vault answered %d %s (%s): %w", re.StatusCode, http.StatusText(re.StatusCode), strings.Join(re.Errors, "; "), vault.ErrUnavailable)
	}
	return unavailable(err)
}

// unavailable wraps a transport or decoding error as vault.ErrUnavailable
// without the URL, keeping context errors visible to errors.Is.
func unavailable(err error) error {
	switch {
	case errors.Is(err, vault.ErrUnavailable):
		return err
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", vault.ErrUnavailable, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", vault.ErrUnavailable, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: %s: %v", vault.ErrUnavailable, ue.Op, ue.Err)
	}
	return fmt.Errorf("%w: %v", vault.ErrUnavailable, err)
}
