package policy

import (
	"context"
	"fmt"
)

// Fielder answers field decisions; *Engine is one.
type Fielder interface {
	Field(ctx context.Context, in Input) (Decision, error)
}

var _ Fielder = (*Engine)(nil)

// MatrixCell is what one role sees of one data class: on a read for one
// purpose (Action read), or in an export (Action export, no purpose).
type MatrixCell struct {
	Role    string `json:"role"`
	Class   string `json:"class"`
	Purpose string `json:"purpose"`
	Action  Action `json:"action"`
	Effect  Effect `json:"effect"`
	Reason  string `json:"reason,omitempty"`
}

// Matrix asks the running policy, for every role, class and purpose, what a
// principal with only that role sees of a field of that class: it evaluates
// the policy for each combination, so nothing about the policy is assumed.
// The principal ID is a fixed placeholder; a policy that decides on
// attributes or IDs is shown as it treats a principal with neither.
func Matrix(ctx context.Context, f Fielder, roles, classes, purposes []string) ([]MatrixCell, error) {
	cells := make([]MatrixCell, 0, len(roles)*len(classes)*(len(purposes)+1))
	ask := func(role, class, purpose string, act Action) error {
		d, err := f.Field(ctx, Input{
			Principal: Principal{ID: "policy-matrix", Roles: []string{role}},
			Action:    act, Purpose: purpose,
			Resource: Resource{Path: "/" + class, Class: class},
		})
		if err != nil {
			return fmt.Errorf("evaluate policy matrix: %w", err)
		}
		cells = append(cells, MatrixCell{Role: role, Class: class, Purpose: purpose, Action: act, Effect: d.Effect, Reason: d.Reason})
		return nil
	}
	for _, role := range roles {
		for _, class := range classes {
			for _, p := range purposes {
				if err := ask(role, class, p, ActionRead); err != nil {
					return nil, err
				}
			}
			if err := ask(role, class, "", ActionExport); err != nil {
				return nil, err
			}
		}
	}
	return cells, nil
}
