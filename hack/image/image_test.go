package main

import (
	"archive/tar"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var meta = Meta{Version: "v0.0.0-test", Revision: "abc", Created: time.Unix(1700000000, 0).UTC(), Source: "https://example.com"}

func build(t *testing.T, binaries map[Platform][]byte) v1.ImageIndex {
	t.Helper()
	files, err := baseFiles()
	if err != nil {
		t.Fatal(err)
	}
	base, err := layer(files, meta.Created)
	if err != nil {
		t.Fatal(err)
	}
	images := map[Platform]v1.Image{}
	for p, b := range binaries {
		if images[p], err = Image(base, b, p, meta); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := Index(images, meta)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

var (
	amd64 = Platform{"linux", "amd64"}
	arm64 = Platform{"linux", "arm64"}
)

// The same inputs give the same digest, whatever the order or the run.
func TestReproducible(t *testing.T) {
	bins := map[Platform][]byte{amd64: []byte("amd64 binary"), arm64: []byte("arm64 binary")}
	a, b := build(t, bins), build(t, bins)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds of the same inputs: %s and %s", da, db)
	}
	bins[arm64] = []byte("another arm64 binary")
	if dc, _ := build(t, bins).Digest(); dc == da {
		t.Fatal("a different binary gave the same digest")
	}
}

// One manifest per platform; each image runs the controller as nonroot,
// has passwd and group entries for it, CA certificates and no shell.
func TestImageContents(t *testing.T) {
	idx := build(t, map[Platform][]byte{amd64: []byte("amd64 binary"), arm64: []byte("arm64 binary")})
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index manifests %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/controller" || cf.Architecture != "arm64" || !cf.Created.Equal(meta.Created) {
		t.Errorf("config %+v", cf)
	}
	files := map[string]*tar.Header{}
	contents := map[string][]byte{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h.Name = strings.TrimSuffix(h.Name, "/")
		files[h.Name] = h
		if contents[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	if string(contents["controller"]) != "arm64 binary" || files["controller"].Mode&0o111 == 0 {
		t.Errorf("controller: %q mode %o", contents["controller"], files["controller"].Mode)
	}
	if !strings.Contains(string(contents["etc/passwd"]), "nonroot:x:65532:65532:") || !strings.Contains(string(contents["etc/group"]), "nonroot:x:65532:") {
		t.Errorf("passwd %q group %q", contents["etc/passwd"], contents["etc/group"])
	}
	if h := files["home/nonroot"]; h == nil || h.Uid != NonRoot {
		t.Errorf("home/nonroot: %+v", h)
	}
	if h := files["tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("tmp: %+v", h)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(contents["etc/ssl/certs/ca-certificates.crt"]) {
		t.Error("no CA certificate in /etc/ssl/certs/ca-certificates.crt")
	}
	for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox"} {
		if _, ok := files[shell]; ok {
			t.Errorf("the image has %s", shell)
		}
	}
	for name, h := range files {
		if !h.ModTime.Equal(meta.Created) {
			t.Errorf("%s has time %s, not the build's", name, h.ModTime)
		}
	}
}

// The layout names the index for containerd, and its tar holds the layout.
func TestLayoutAndTar(t *testing.T) {
	idx := build(t, map[Platform][]byte{amd64: []byte("amd64 binary")})
	dir := filepath.Join(t.TempDir(), "image")
	if err := writeLayout(dir, idx, "example.com/azkarpenter:v1"); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want || im.Manifests[0].Annotations["io.containerd.image.name"] != "example.com/azkarpenter:v1" ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Fatalf("index.json %+v", im.Manifests)
	}
	if err := tarDir(dir, dir+".tar", meta.Created); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir + ".tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	for _, n := range []string{"oci-layout", "index.json", "blobs/sha256/" + want.Hex} {
		if !names[n] {
			t.Errorf("the tar has no %s: %v", n, names)
		}
	}
}

func TestParsePlatforms(t *testing.T) {
	if _, err := ParsePlatforms("linux/amd64,linux/arm64"); err != nil {
		t.Error(err)
	}
	if _, err := ParsePlatforms("windows/amd64"); err == nil || !strings.Contains(err.Error(), "windows/amd64") {
		t.Errorf("windows: %v", err)
	}
}
