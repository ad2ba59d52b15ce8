package eventlog

import (
	"context"
	"encoding/json"
	"testing"
)

func openTest(t testing.TB) *Log {
	t.Helper()
	l, err := Open(t.TempDir(), DefaultOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func ev(typ, data string) EventData {
	return EventData{Type: typ, Data: json.RawMessage(data)}
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	l := openTest(t)
	res, err := l.Append(ctx, "s1", NoStream, []EventData{ev("a", `{"x":1}`), ev("b", `{"x":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res != (AppendResult{1, 2, 1, 2}) {
		t.Fatalf("res = %+v", res)
	}
	evs, err := l.ReadAll(ctx, 0, 10, Filter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("ReadAll = %v, %v", evs, err)
	}
	vr, err := l.Verify(ctx)
	if err != nil || !vr.OK || vr.HeadPosition != 2 {
		t.Fatalf("Verify = %+v, %v", vr, err)
	}
}
