package pricing

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// SnapshotFile is the embedded snapshot's name, relative to this package;
// hack/pricing-snapshot writes it.
const SnapshotFile = "snapshot.json.gz"

//go:embed snapshot.json.gz
var embeddedSnapshot []byte

// Snapshot is a set of price tables, one per region, saved so a controller
// has prices before (or without) reaching the Retail Prices API. Stored as
// gzipped JSON: {"generatedAt", "source", "regions": {region: {sku:
// {linux, linuxSpot, windows, windowsSpot}}}}.
type Snapshot struct {
	GeneratedAt time.Time        `json:"generatedAt"`
	Source      string           `json:"source"`
	Regions     map[string]Table `json:"regions"`
}

// Encode writes the snapshot as gzipped JSON. The output is deterministic
// (sorted map keys, no gzip timestamp) so a regenerated file diffs only when
// prices change.
func (s *Snapshot) Encode(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(zw)
	if err := enc.Encode(s); err != nil {
		_ = zw.Close()
		return err
	}
	return zw.Close()
}

// DecodeSnapshot reads a snapshot written by Encode.
func DecodeSnapshot(r io.Reader) (*Snapshot, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("pricing snapshot: %w", err)
	}
	defer func() { _ = zr.Close() }()
	var s Snapshot
	if err := json.NewDecoder(zr).Decode(&s); err != nil {
		return nil, fmt.Errorf("pricing snapshot: %w", err)
	}
	return &s, nil
}

var defaultSnapshot = sync.OnceValues(func() (*Snapshot, error) {
	return DecodeSnapshot(bytes.NewReader(embeddedSnapshot))
})

// DefaultSnapshot is the snapshot embedded in the binary. Callers must not
// modify it.
func DefaultSnapshot() (*Snapshot, error) { return defaultSnapshot() }
