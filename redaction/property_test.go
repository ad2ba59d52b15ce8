package redaction

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// TestPropertyRedaction checks, over random schemas, events and erased
// subject sets, with the real log, embedded vault and OPA: a read returns
// the placeholder exactly for the values of erased subjects and the
// original value otherwise; reading twice gives the same bytes; and
// redacting a revealed read again reads back the same (redacting twice
// changes nothing).
func TestPropertyRedaction(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{embedded: true, opts: Options{SweepInterval: -1}})
	svc := env.svc
	var iter atomic.Int64
	keysGen := rapid.SampledFrom([]string{"a", "b", "c", "e~x", "f/y", "g h", "ü"})
	classGen := rapid.SampledFrom([]Class{ClassEmail, ClassPhone, ClassName, ClassAddress, ClassDateOfBirth, ClassNationalID, ClassIPAddress, ClassFreeText})
	valueGen := rapid.OneOf(
		rapid.Map(rapid.String(), func(s string) any { return s }),
		rapid.Map(rapid.IntRange(-1e6, 1e6), func(i int) any { return i }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Map(rapid.String(), func(s string) any { return map[string]any{"x": s, "n": 1} }),
		rapid.Map(rapid.String(), func(s string) any { return []any{s, 2, nil} }),
	)
	rapid.Check(t, func(rt *rapid.T) {
		n := iter.Add(1)
		typ := fmt.Sprintf("T%d", n)
		// Schema: distinct top-level keys, maybe a wildcard list, maybe a
		// field with its own subject.
		ks := rapid.SliceOfNDistinct(keysGen, 1, 4, func(s string) string { return s }).Draw(rt, "keys")
		fields := make([]map[string]string, 0, len(ks)+2)
		for _, k := range ks {
			fields = append(fields, map[string]string{"path": "/" + EscapeSegment(k), "class": string(classGen.Draw(rt, "class"))})
		}
		withList := rapid.Bool().Draw(rt, "withList")
		if withList {
			fields = append(fields, map[string]string{"path": "/list/*/v", "class": string(classGen.Draw(rt, "lclass"))})
		}
		withOther := rapid.Bool().Draw(rt, "withOther")
		if withOther {
			fields = append(fields, map[string]string{"path": "/other/v", "class": "email", "subject": "/other/id"})
		}
		doc, _ := json.Marshal(map[string]any{"subject": "/sid", "fields": fields, "leakGuard": "allow"})
		if _, err := svc.PutSchema(ctx, pAdmin, typ, doc); err != nil {
			rt.Fatalf("PutSchema(%s) = %v", doc, err)
		}
		pool := []string{fmt.Sprintf("s%d-a", n), fmt.Sprintf("s%d-b", n), fmt.Sprintf("s%d-c", n)}
		subj := rapid.SampledFrom(pool)
		nev := rapid.IntRange(1, 5).Draw(rt, "events")
		var inputs []EventInput
		var originals []map[string]any
		for i := 0; i < nev; i++ {
			d := map[string]any{"sid": subj.Draw(rt, "sid"), "extra": rapid.String().Draw(rt, "extra")}
			for _, k := range ks {
				if rapid.IntRange(0, 5).Draw(rt, "present") > 0 {
					d[k] = valueGen.Draw(rt, "v")
				}
			}
			if withList {
				var list []any
				for j := rapid.IntRange(0, 3).Draw(rt, "len"); j > 0; j-- {
					list = append(list, map[string]any{"v": valueGen.Draw(rt, "lv"), "k": "keep"})
				}
				d["list"] = list
			}
			if withOther {
				d["other"] = map[string]any{"id": subj.Draw(rt, "oid"), "v": valueGen.Draw(rt, "ov")}
			}
			b, _ := json.Marshal(d)
			inputs = append(inputs, EventInput{Type: typ, Data: b})
			var back map[string]any
			_ = json.Unmarshal(b, &back)
			originals = append(originals, back)
		}
		stream := fmt.Sprintf("prop-%d", n)
		if _, err := svc.Append(ctx, pService, stream, NoStream, inputs); err != nil {
			rt.Fatalf("Append = %v", err)
		}
		erased := map[string]bool{}
		for _, s := range pool {
			if rapid.Bool().Draw(rt, "erase "+s) {
				erased[s] = true
				if _, err := svc.Erase(ctx, pDPO, s, ErasureRequest{}); err != nil {
					rt.Fatalf("Erase = %v", err)
				}
			}
		}
		read := func() []Event {
			evs, err := svc.ReadStream(ctx, pRoot, stream, 1, 100, Forward)
			if err != nil {
				rt.Fatalf("ReadStream = %v", err)
			}
			return evs
		}
		evs := read()
		again := read()
		if len(evs) != nev {
			rt.Fatalf("read %d events, want %d", len(evs), nev)
		}
		for i, e := range evs {
			if !bytes.Equal(e.Data, again[i].Data) {
				rt.Fatalf("two reads differ:\n%s\n%s", e.Data, again[i].Data)
			}
			want := originals[i]
			anyErased := false
			for _, f := range e.PII {
				wantState := StateRevealed
				if erased[f.Subject] {
					wantState = StateErased
					anyErased = true
				}
				if f.State != wantState {
					rt.Fatalf("%s of %s: state %s, want %s", f.Path, f.Subject, f.State, wantState)
				}
				if wantState == StateErased {
					setPointer(want, f.Path, DefaultPlaceholder)
				}
			}
			var got map[string]any
			if err := json.Unmarshal(e.Data, &got); err != nil {
				rt.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				rt.Fatalf("event %d:\n got %s\nwant %s", i, e.Data, mustJSON(want))
			}
			if !anyErased && !bytes.Equal(e.Data, inputs[i].Data) {
				rt.Fatalf("event %d not byte-identical:\n got %s\nwant %s", i, e.Data, inputs[i].Data)
			}
			// Redacting the revealed read again changes nothing.
			if !anyErased {
				s2 := stream + "-again"
				if _, err := svc.Append(ctx, pService, s2, Any, []EventInput{{Type: typ, Data: e.Data}}); err != nil {
					rt.Fatalf("re-append = %v", err)
				}
				evs2, err := svc.ReadStream(ctx, pRoot, s2, 0, 1, Backward)
				if err != nil || !bytes.Equal(evs2[0].Data, e.Data) {
					rt.Fatalf("redacting twice changed the event: %s vs %s (%v)", evs2[0].Data, e.Data, err)
				}
			}
		}
	})
}

// setPointer sets the value at a concrete pointer in a decoded document.
func setPointer(doc any, ptr string, v any) {
	p, err := ParseConcretePointer(ptr)
	if err != nil {
		panic(err)
	}
	segs := p.Segments()
	cur := doc
	for i, s := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[s] = v
				return
			}
			cur = c[s]
		case []any:
			idx, _ := arrayIndex(s)
			if last {
				c[idx] = v
				return
			}
			cur = c[idx]
		}
	}
}
