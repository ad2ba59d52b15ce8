package validate

import "errors"

var (
	// ErrUnknownKind is returned for a manifest whose apiVersion and kind
	// this package has no typed object for.
	ErrUnknownKind = errors.New("unknown apiVersion/kind")
	// ErrStrictDecode is returned when a document does not decode strictly
	// into its typed object (unknown field, duplicate key, wrong type).
	ErrStrictDecode = errors.New("strict decode failed")
	// ErrNoTypeMeta is returned for a document without apiVersion or kind.
	ErrNoTypeMeta = errors.New("missing apiVersion or kind")
)
