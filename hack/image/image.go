package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// NonRoot is the user and group the image runs as: distroless's nonroot.
const NonRoot = 65532

// EntrypointPath is where the controller's binary is in the image.
const EntrypointPath = "/controller"

// file is one entry of a layer.
type file struct {
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layer is a deterministic tar of files: sorted names, a fixed time, fixed
// owners, no user or group names, gzip without a header time (go-containerregistry's
// default), so the same files always make the same digest.
func layer(files map[string]file, at time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f := files[name]
		h := &tar.Header{Name: strings.TrimPrefix(name, "/"), Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: at, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// baseFiles are what distroless's static image gives a static Go binary,
// made here (no registry serves a base image to this build): root and
// nonroot in /etc/passwd and /etc/group, nonroot's home, a world-writable
// /tmp, name resolution from files then DNS, and the CA certificates of
// Mozilla's NSS trust store as Go's golang.org/x/crypto/x509roots/fallback
// ships them (the module version pins them, so the image is reproducible).
func baseFiles() (map[string]file, error) {
	certs, err := caBundle()
	if err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)
	group := fmt.Sprintf("root:x:0:\nnobody:x:65534:\nnonroot:x:%d:\n", NonRoot)
	return map[string]file{
		"/etc":                               {dir: true, mode: 0o755},
		"/etc/passwd":                        {mode: 0o644, data: []byte(passwd)},
		"/etc/group":                         {mode: 0o644, data: []byte(group)},
		"/etc/nsswitch.conf":                 {mode: 0o644, data: []byte("hosts: files dns\n")},
		"/etc/ssl":                           {dir: true, mode: 0o755},
		"/etc/ssl/certs":                     {dir: true, mode: 0o755},
		"/etc/ssl/certs/ca-certificates.crt": {mode: 0o644, data: certs},
		"/home":                              {dir: true, mode: 0o755},
		"/home/nonroot":                      {dir: true, mode: 0o700, uid: NonRoot, gid: NonRoot},
		"/root":                              {dir: true, mode: 0o700},
		"/tmp":                               {dir: true, mode: 0o1777},
	}, nil
}

// caBundle is the PEM of every unconstrained root in x509roots' bundle.
// Roots with a distrust-after date cannot be said in a PEM file; they are
// left out, as Debian's ca-certificates leaves out distrusted roots.
func caBundle() ([]byte, error) {
	var out bytes.Buffer
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n < 100 {
		return nil, fmt.Errorf("only %d CA certificates in x509roots/fallback/bundle", n)
	}
	return out.Bytes(), nil
}

// Platform is an OS and architecture the image is built for.
type Platform struct{ OS, Architecture string }

func (p Platform) String() string { return p.OS + "/" + p.Architecture }

// ParsePlatforms reads linux/amd64,linux/arm64.
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	for _, item := range strings.Split(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(item), "/")
		if !ok || os != "linux" || (arch != "amd64" && arch != "arm64") {
			return nil, fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", item)
		}
		out = append(out, Platform{OS: os, Architecture: arch})
	}
	return out, nil
}

// Meta is what the image says about itself.
type Meta struct {
	Version  string
	Revision string
	Created  time.Time
	Source   string
}

// Image is the controller's image for one platform: the base layer and the
// binary, run as nonroot with no shell.
func Image(base v1.Layer, binary []byte, p Platform, m Meta) (v1.Image, error) {
	bin, err := layer(map[string]file{EntrypointPath: {mode: 0o755, data: binary}}, m.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, base, bin)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Architecture
	cf.Created = v1.Time{Time: m.Created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		Entrypoint: []string{EntrypointPath},
		WorkingDir: "/home/nonroot",
		Env:        []string{"PATH=/", "HOME=/home/nonroot", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:     m.labels(),
	}
	// No history: layers are the same whatever built them.
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

func (m Meta) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "azkarpenter",
		"org.opencontainers.image.version":  m.Version,
		"org.opencontainers.image.revision": m.Revision,
		"org.opencontainers.image.source":   m.Source,
		"org.opencontainers.image.created":  m.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
}

// Index is the multi-platform image index of images, one per platform.
func Index(images map[Platform]v1.Image, m Meta) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	platforms := slices.SortedFunc(maps.Keys(images), func(a, b Platform) int { return strings.Compare(a.String(), b.String()) })
	for _, p := range platforms {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        images[p],
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture}},
		})
	}
	return mutate.Annotations(idx, m.labels()).(v1.ImageIndex), nil
}
