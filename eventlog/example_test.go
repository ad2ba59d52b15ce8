package eventlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/piivault/piivault/eventlog"
)

func Example() {
	dir, _ := os.MkdirTemp("", "eventlog-example")
	defer os.RemoveAll(dir)
	l, err := eventlog.Open(dir, eventlog.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()

	res, err := l.Append(ctx, "order-42", eventlog.NoStream, []eventlog.EventData{
		{Type: "OrderPlaced", Data: json.RawMessage(`{"total":12}`)},
		{Type: "OrderPaid", Data: json.RawMessage(`{"amount":12}`)},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("versions %d-%d at positions %d-%d\n", res.FirstVersion, res.LastVersion, res.FirstPosition, res.LastPosition)

	// A writer that read version 1 loses the race to the one that wrote version 2.
	_, err = l.Append(ctx, "order-42", 1, []eventlog.EventData{{Type: "OrderCancelled", Data: json.RawMessage(`{}`)}})
	var conflict *eventlog.ConflictError
	if errors.As(err, &conflict) {
		fmt.Println("conflict: stream is at version", conflict.Actual)
	}

	evs, _ := l.ReadStream(ctx, "order-42", 0, 10, eventlog.Backward)
	for _, e := range evs {
		fmt.Println(e.Version, e.Type, string(e.Data))
	}
	vr, _ := l.Verify(ctx)
	fmt.Println("chain ok:", vr.OK, "head:", vr.HeadPosition)
	// Output:
	// versions 1-2 at positions 1-2
	// conflict: stream is at version 2
	// 2 OrderPaid {"amount":12}
	// 1 OrderPlaced {"total":12}
	// chain ok: true head: 2
}

func ExampleLog_Subscribe() {
	dir, _ := os.MkdirTemp("", "eventlog-example")
	defer os.RemoveAll(dir)
	l, err := eventlog.Open(dir, eventlog.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	l.Append(ctx, "a", eventlog.Any, []eventlog.EventData{{Type: "T", Data: json.RawMessage(`1`)}})

	sub := l.Subscribe(ctx, 0) // catch up from the start, then follow live appends
	defer sub.Close()
	go l.Append(ctx, "b", eventlog.Any, []eventlog.EventData{{Type: "T", Data: json.RawMessage(`2`)}})
	for i := 0; i < 2; i++ {
		e, err := sub.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Position, e.Stream, string(e.Data))
	}
	// Output:
	// 1 a 1
	// 2 b 2
}
