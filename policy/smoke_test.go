package policy

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	e, err := New(context.Background(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, in := range []Input{
		{Principal: Principal{ID: "a", Roles: []string{"support"}}, Action: ActionRead, Purpose: "support", Resource: Resource{Class: "email"}},
		{Principal: Principal{ID: "a", Roles: []string{"support"}}, Action: ActionRead, Purpose: "support", Resource: Resource{Class: "phone"}},
		{Principal: Principal{ID: "a", Roles: []string{"support", "billing"}}, Action: ActionRead, Purpose: "x", Resource: Resource{Class: "address"}},
	} {
		d, err := e.Authorize(context.Background(), in)
		t.Log(d, err)
		d, err = e.Field(context.Background(), in)
		t.Log(d, err)
	}
	t.Logf("%+v", e.cur.Load().deps)
}
