package redaction_test

import (
	"fmt"

	"github.com/piivault/piivault/redaction"
)

func ExampleDecodeSchema() {
	s, err := redaction.DecodeSchema("CustomerRegistered", []byte(`{
		"subject": "/customerId",
		"fields": [
			{"path": "/email", "class": "email"},
			{"path": "/addresses/*/street", "class": "address"}
		]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.EventType, s.Subject, len(s.Fields))

	_, err = redaction.DecodeSchema("CustomerRegistered", []byte(`{"subject":"/customerId","fields":[{"path":"/email","class":"shoe_size"}]}`))
	fmt.Println(err)
	// Output:
	// CustomerRegistered /customerId 2
	// redaction: invalid schema for "CustomerRegistered": fields[0].class: unknown class "shoe_size" (known: email, phone, name, address, date_of_birth, national_id, ip_address, free_text, detected)
}

func ExampleMask() {
	fmt.Println(redaction.Mask(redaction.ClassEmail, []byte(`"john.doe@example.com"`)))
	fmt.Println(redaction.Mask(redaction.ClassPhone, []byte(`"+1 415 555 1234"`)))
	fmt.Println(redaction.Mask(redaction.ClassName, []byte(`"John Doe"`)))
	fmt.Println(redaction.Mask(redaction.ClassDateOfBirth, []byte(`"1990-05-17"`)))
	fmt.Println(redaction.Mask(redaction.ClassAddress, []byte(`{"street":"1 Main St"}`)))
	// Output:
	// j***@example.com
	// ***-***-1234
	// J*** D**
	// 1990
	// ****
}

func ExampleDetectPII() {
	for _, s := range []string{"4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "2024-01-31", "order-7"} {
		fmt.Printf("%q\n", redaction.DetectPII(s))
	}
	// Output:
	// "payment_card"
	// "iban"
	// ""
	// ""
}

func ExampleParsePointer() {
	p, _ := redaction.ParsePointer("/a~1b/*/c~0d")
	fmt.Printf("%q %v\n", p.Segments(), p.HasWildcard())
	// Output: ["a/b" "*" "c~d"] true
}
