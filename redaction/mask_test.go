package redaction

import (
	"encoding/json"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct {
		class Class
		in    string // JSON
		want  string
	}{
		{ClassEmail, `"john.doe@example.com"`, "j***@example.com"},
		{ClassEmail, `"j***@example.com"`, "j***@example.com"},
		{ClassEmail, `"not an email"`, "****"},
		{ClassPhone, `"+1 415-555-1234"`, "***-***-1234"},
		{ClassPhone, `"***-***-1234"`, "***-***-1234"},
		{ClassPhone, `"12"`, "****"},
		{ClassName, `"John Doe"`, "J*** D**"},
		{ClassName, `"Zoë Ångström"`, "Z** Å*******"},
		{ClassName, `"J*** D**"`, "J*** D**"},
		{ClassDateOfBirth, `"1990-05-17"`, "1990"},
		{ClassDateOfBirth, `"17/05/1990"`, "1990"},
		{ClassDateOfBirth, `"1990"`, "1990"},
		{ClassDateOfBirth, `"May 5"`, "****"},
		{ClassAddress, `"1 Main St"`, "****"},
		{ClassAddress, `{"street":"1 Main St"}`, "****"},
		{ClassNationalID, `"123-45-6789"`, "****"},
		{ClassIPAddress, `"10.1.2.3"`, "****"},
		{ClassFreeText, `"hello"`, "****"},
		{ClassEmail, `42`, "****"},
		{ClassName, `""`, "****"},
	}
	for _, tt := range tests {
		t.Run(string(tt.class)+" "+tt.in, func(t *testing.T) {
			got := Mask(tt.class, []byte(tt.in))
			if got != tt.want {
				t.Fatalf("Mask(%s, %s) = %q, want %q", tt.class, tt.in, got, tt.want)
			}
			again, _ := json.Marshal(got)
			if twice := Mask(tt.class, again); twice != got {
				t.Errorf("Mask is not idempotent: Mask(%q) = %q", got, twice)
			}
		})
	}
}
