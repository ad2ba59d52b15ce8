package validate_test

import (
	"errors"
	"fmt"

	"github.com/piivault/piivault/deploy/validate"
)

// A misspelt field is an error, not a silently dropped value.
func ExampleDecodeStrict() {
	_, err := validate.DecodeStrict("pod.yaml", []byte(`
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: c:1.0
      securityContext: {readOnlyRootFilesystm: true}
`))
	fmt.Println(errors.Is(err, validate.ErrStrictDecode))
	// Output: true
}

func ExampleCheckImageRef() {
	for _, ref := range []string{"ghcr.io/piivault/piivault:0.1.0", "piivault:latest", "piivault"} {
		fmt.Println(ref, validate.CheckImageRef(ref) == nil)
	}
	// Output:
	// ghcr.io/piivault/piivault:0.1.0 true
	// piivault:latest false
	// piivault false
}
