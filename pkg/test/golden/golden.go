// Package golden compares a test's output with a file under the package's
// testdata/, or rewrites the file when the test runs with -update:
//
//	go test ./pkg/aksnodepool -update
//
// then read the diff of testdata/ before committing it.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the output")

// Check compares got with testdata/name, or writes it there with -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test with -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test with -update rewrites it; read the diff before committing it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
