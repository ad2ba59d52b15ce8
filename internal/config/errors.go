package config

import "errors"

// ErrInvalid is wrapped by every validation error of Load and LoadTokens.
var ErrInvalid = errors.New("config: invalid")
