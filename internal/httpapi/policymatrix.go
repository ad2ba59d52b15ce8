package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

// PolicyMatrix is the answer of GET /v1/policy/matrix: what each role sees
// of each data class, for each purpose, as the running policy decides.
type PolicyMatrix struct {
	Revision string              `json:"revision,omitempty"`
	Roles    []string            `json:"roles"`
	Classes  []string            `json:"classes"`
	Purposes []string            `json:"purposes"`
	Cells    []policy.MatrixCell `json:"cells"`
}

// roles lists the roles of every configured principal, sorted.
func (a *Authenticator) roles() []string {
	var out []string
	if a == nil {
		return out
	}
	for _, t := range a.tokens {
		out = append(out, t.p.Roles...)
	}
	for _, p := range a.certs {
		out = append(out, p.Roles...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// policyMatrix evaluates the policy for every combination. Roles default to
// those of the configured principals, classes to those of the declared
// schemas, purposes to the role names and none; query parameters roles,
// classes and purposes (comma separated) override them.
func (s *Server) policyMatrix(c *gin.Context) {
	f, ok := s.pol.(policy.Fielder)
	if !ok {
		s.fail(c, ErrNotImplemented)
		return
	}
	list := func(name string, def func() ([]string, error)) ([]string, error) {
		if v := c.Query(name); v != "" {
			out := strings.Split(v, ",")
			if len(out) > 64 {
				return nil, badRequest(sdk.CodeBadRequest, "query parameter %s: at most 64 values", name)
			}
			return out, nil
		}
		return def()
	}
	roles, err := list("roles", func() ([]string, error) { return s.auth.Load().roles(), nil })
	if err != nil {
		s.fail(c, err)
		return
	}
	classes, err := list("classes", func() ([]string, error) {
		schemas, err := s.core.ListSchemas(c.Request.Context(), callerOf(c))
		var out []string
		for _, sc := range schemas {
			for _, fd := range sc.Fields {
				out = append(out, fd.Class)
			}
		}
		slices.Sort(out)
		return slices.Compact(out), err
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	purposes, err := list("purposes", func() ([]string, error) { return append(slices.Clone(roles), ""), nil })
	if err != nil {
		s.fail(c, err)
		return
	}
	cells, err := policy.Matrix(c.Request.Context(), f, roles, classes, purposes)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := PolicyMatrix{Roles: roles, Classes: classes, Purposes: purposes, Cells: cells}
	if r, ok := s.pol.(interface{ Revision() string }); ok {
		out.Revision = r.Revision()
	}
	c.JSON(http.StatusOK, out)
}
