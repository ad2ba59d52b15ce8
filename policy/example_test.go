package policy_test

import (
	"context"
	"fmt"

	"github.com/piivault/piivault/policy"
)

func Example() {
	ctx := context.Background()
	opts := policy.DefaultOptions()
	opts.DecisionLog = func(r policy.DecisionRecord) { /* write r to the audit stream */ }
	e, err := policy.New(ctx, opts)
	if err != nil {
		panic(err)
	}
	defer e.Close()

	agent := policy.Principal{ID: "agent-7", Roles: []string{"support"}}
	req := policy.Input{Principal: agent, Action: policy.ActionRead, Purpose: "support",
		Resource: policy.Resource{Stream: "customer-42", EventType: "CustomerRegistered", Subject: "cust-42"}}
	d, _ := e.Authorize(ctx, req)
	fmt.Println(d.Allow, d.Reason)

	for _, f := range []struct{ path, class string }{{"/email", "email"}, {"/phone", "phone"}, {"/address", "address"}} {
		in := req
		in.Resource.Path, in.Resource.Class = f.path, f.class
		d, _ := e.Field(ctx, in)
		fmt.Println(f.path, d.Effect)
	}
	// Output:
	// true role support may read
	// /email reveal
	// /phone mask
	// /address deny
}
