package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// appendSeeds are append bodies in the canonical form the fast path takes
// and in every odd form it must hand to encoding/json.
var appendSeeds = []string{
	`{"events":[{"type":"CustomerRegistered","data":{"customerId":"c-1","email":"a@b.c","n":[1,2.5e3,true,null,{"x":"\"}"}]}}]}`,
	`{"expectedVersion":0,"events":[{"id":"0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a12","type":"X","data":{},"metadata":{"m":"\\"}}]}`,
	` { "events" : [ { "type" : "X" , "data" : { } } , {"type":"Y","data":{"a":"é"}} ] , "expectedVersion" : 18446744073709551615 } `,
	`{"expectedVersion":18446744073709551616,"events":[]}`,
	`{"expectedVersion":01,"events":[]}`,
	`{"expectedVersion":1.0,"events":[]}`,
	`{"expectedVersion":1e2,"events":[]}`,
	`{"expectedVersion":-1,"events":[]}`,
	`{"expectedVersion":null,"events":[]}`,
	`{"events":[]}`,
	`{"events":null}`,
	`{"events":[null]}`,
	`{"events":{}}`,
	`{}`,
	`{"EVENTS":[{"DATA":{}}]}`,
	`{"events":[{"type":"X","data":1}],"events":[{"type":"Y","data":2}]}`,
	`{"events":[{"type":"X","type":"Y","data":{}}]}`,
	`{"events":[{"type":"X\u0041","data":{}}]}`,
	`{"events":[{"type":null,"data":{}}]}`,
	`{"events":[{"type":"X","data":null,"metadata":null}]}`,
	`{"events":[{"type":"X","data":"str","metadata":[1]}]}`,
	`{"events":[{"type":"X","data":{"a":1}} ]} x`,
	`{"events":[{"type":"X","data":{"a":1}}]}{"events":[]}`,
	`{"events":[{"type":"X","data":{"a":01}}]}`,
	`{"events":[{"type":"X","data":{"a":"` + "\x01" + `"}}]}`,
	`{"events":[{"type":"` + "\xff" + `","data":{}}]}`,
	`{"events":[{"type":"X","data":{"` + "\xff" + `":1}}]}`,
	`{"events":[{"type":"X","data":{"a":[}}]}`,
	`{"events":[{"type":"X","data":{"a":1}`,
	`{"events":[{"type":"X","nope":1,"data":{}}]}`,
	`{"events":[{"type":"X","data":tru}]}`,
	`{"events":[{"type":"X","data":true}]}`,
	`{"events":[{"type":"X","data":12"x"}]}`,
	`{"events":[{"type":"X","data":"a\"b"}]}`,
	`[]`,
	``,
	`   `,
	`{"events":[{"type":"X","data":` + strings.Repeat("[", 9100) + strings.Repeat("]", 9100) + `}]}`,
	`{"events":[{"type":"X","data":` + strings.Repeat("[", 9996) + strings.Repeat("]", 9996) + `}]}`,
}

// TestDecodeAppendMatchesEncodingJSON checks the seeds in both decoders.
func TestDecodeAppendMatchesEncodingJSON(t *testing.T) {
	for _, s := range appendSeeds {
		checkDecodeAppend(t, []byte(s))
	}
	// The canonical form must take the fast path.
	for _, s := range appendSeeds[:3] {
		var req sdk.AppendRequest
		if !fastDecodeAppend([]byte(s), &req) {
			t.Errorf("fastDecodeAppend(%.60q) = false, want the fast path", s)
		}
	}
}

// FuzzDecodeAppend checks that decodeAppend decodes as unmarshalStrict
// does: the same value, or an error with the same problem.
func FuzzDecodeAppend(f *testing.F) {
	for _, s := range appendSeeds {
		if len(s) < 1000 { // the deep-nesting seeds make minimizing crawl
			f.Add([]byte(s))
		}
	}
	f.Fuzz(checkDecodeAppend)
}

func checkDecodeAppend(t *testing.T, b []byte) {
	t.Helper()
	var fast, slow sdk.AppendRequest
	in := bytes.Clone(b)
	fastErr := decodeAppend(in, &fast)
	slowErr := unmarshalStrict(b, &slow)
	if (fastErr == nil) != (slowErr == nil) {
		t.Fatalf("decodeAppend(%.200q) error %v, unmarshalStrict %v", b, fastErr, slowErr)
	}
	if fastErr != nil {
		if pf, ps := problemFor(fastErr), problemFor(slowErr); pf != ps {
			t.Fatalf("decodeAppend(%.200q) problem %+v, unmarshalStrict %+v", b, pf, ps)
		}
		return
	}
	if !reflect.DeepEqual(fast, slow) {
		fj, _ := json.Marshal(fast)
		sj, _ := json.Marshal(slow)
		t.Fatalf("decodeAppend(%.200q) = %s\nunmarshalStrict = %s", b, fj, sj)
	}
}

func BenchmarkDecodeAppend(b *testing.B) {
	ev := `{"type":"CustomerUpdated","data":{"customerId":"bench-b-1","email":"user1.bench-b-1@example.com","name":"Person 1 of bench-b-1","notes":"` +
		strings.Repeat("lorem ipsum dolor sit amet consectetur ", 22) + `","phone":"+49 151 00000001","plan":"pro","seats":1}}`
	for _, n := range []int{1, 100} {
		body := []byte(`{"events":[` + strings.TrimSuffix(strings.Repeat(ev+",", n), ",") + `]}`)
		b.Run("fast/"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var req sdk.AppendRequest
				if err := decodeAppend(body, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encoding-json/"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var req sdk.AppendRequest
				if err := unmarshalStrict(body, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
