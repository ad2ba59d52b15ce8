package httpapi

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/piivault/piivault/sdk"
)

// exportZip renders a subject export as a zip of two CSV files (GDPR Art. 20
// portability in a form spreadsheets open): values.csv with one row per held
// value, and events.csv with one row per event that references the subject.
// A value that is a JSON string is written as its text; any other JSON value
// as its JSON.
func exportZip(x sdk.SubjectExport, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name string, header []string, rows [][]string) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		for _, row := range rows {
			for i, cell := range row {
				row[i] = csvSafe(cell)
			}
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	}
	values := make([][]string, 0, len(x.Values))
	for _, v := range x.Values {
		values = append(values, []string{x.Subject, v.Class, csvValue(v.Value), v.State, csvTime(v.CreatedAt)})
	}
	if err := write("values.csv", []string{"subject", "class", "value", "state", "createdAt"}, values); err != nil {
		return nil, err
	}
	events := make([][]string, 0, len(x.Events))
	for _, e := range x.Events {
		events = append(events, []string{e.Stream, strconv.FormatUint(e.Version, 10), strconv.FormatUint(e.Position, 10),
			e.Type, csvTime(e.RecordedAt), strings.Join(e.Paths, " ")})
	}
	if err := write("events.csv", []string{"stream", "version", "position", "type", "recordedAt", "paths"}, events); err != nil {
		return nil, err
	}
	meta := [][]string{{x.Subject, strconv.FormatBool(x.Erased), x.ErasureID, csvTime(now)}}
	if err := write("subject.csv", []string{"subject", "erased", "erasureId", "exportedAt"}, meta); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// csvSafe neutralises a cell that a spreadsheet would run as a formula
// (OWASP "CSV injection"): one that starts with =, +, -, @, a tab or a
// carriage return gets a leading apostrophe, which spreadsheets show as
// text. Every cell passes here: subjects, streams and event types are the
// client's words as much as the values are.
func csvSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

func csvValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
