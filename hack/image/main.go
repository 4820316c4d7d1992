// Command image builds the controller's container image from Go alone, with
// no Docker, no registry and no base image to pull: a static binary per
// platform on a layer of its own making (passwd and group with nonroot
// 65532, CA certificates, /tmp), run as nonroot with no shell. It writes a
// multi-platform OCI image layout and the same layout as a tar (what
// `ctr images import`, `crane push`, `oras cp` and `skopeo copy
// oci-archive:` take), and prints the index digest.
//
// The image is reproducible: the same source, Go toolchain, version and
// SOURCE_DATE_EPOCH give the same digest (docs/decisions.md).
//
//	cd hack/image && go run . --repo-root ../.. --out ../../bin/image --platforms linux/amd64,linux/arm64
package main

import (
	"archive/tar"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	repoRoot := flag.String("repo-root", "../..", "the repository to build cmd/controller from")
	out := flag.String("out", "../../bin/image", "OCI image layout directory to write (replaced); the tar is <out>.tar")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "platforms to build")
	ref := flag.String("ref", "ghcr.io/azkarpenter/azkarpenter:dev", "the image's name in the layout (what `ctr images import` names it)")
	version := flag.String("version", "", "the controller's version (default: git describe)")
	flag.Parse()
	start := time.Now()
	ps, err := ParsePlatforms(*platforms)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*repoRoot)
	if err != nil {
		return err
	}
	meta, err := metaOf(root, *version)
	if err != nil {
		return err
	}
	files, err := baseFiles()
	if err != nil {
		return err
	}
	base, err := layer(files, meta.Created)
	if err != nil {
		return err
	}
	images := map[Platform]v1.Image{}
	work, err := os.MkdirTemp("", "azk-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	for _, p := range ps {
		t := time.Now()
		bin := filepath.Join(work, "controller-"+p.Architecture)
		if err := goBuild(context.Background(), root, bin, p, meta.Version); err != nil {
			return err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		if images[p], err = Image(base, data, p, meta); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "built %s in %s\n", p, time.Since(t).Round(100*time.Millisecond))
	}
	idx, err := Index(images, meta)
	if err != nil {
		return err
	}
	if err := writeLayout(*out, idx, *ref); err != nil {
		return err
	}
	if err := tarDir(*out, *out+".tar", meta.Created); err != nil {
		return err
	}
	return report(os.Stdout, idx, ps, images, *out, *ref, time.Since(start))
}

// metaOf is the version (git describe), revision and commit time of the
// tree: the commit time is the image's creation time unless
// SOURCE_DATE_EPOCH says otherwise, so a rebuild of a commit is identical.
func metaOf(root, version string) (Meta, error) {
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		b, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	m := Meta{Version: version, Revision: git("rev-parse", "HEAD"), Source: "https://github.com/azkarpenter/azkarpenter"}
	if m.Version == "" {
		m.Version = git("describe", "--tags", "--always", "--dirty")
	}
	if m.Version == "" {
		m.Version = "dev"
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = git("log", "-1", "--format=%ct")
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return Meta{}, fmt.Errorf("SOURCE_DATE_EPOCH or the last commit's time: %q is not seconds since 1970", epoch)
	}
	m.Created = time.Unix(secs, 0).UTC()
	return m, nil
}

// goBuild builds cmd/controller for p: static (no cgo), without paths or
// build IDs that differ between machines, with the time zone database
// inside (there is none in the image).
func goBuild(ctx context.Context, root, out string, p Platform, version string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", "timetzdata",
		"-ldflags", "-s -w -buildid= -X sigs.k8s.io/karpenter/pkg/operator.Version="+version,
		"-o", out, "./cmd/controller")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/controller for %s: %w", p, err)
	}
	return nil
}

// writeLayout writes an OCI image layout whose index.json names the
// multi-platform index ref, as containerd and the OCI tools read it.
func writeLayout(dir string, idx v1.ImageIndex, ref string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	tag := ref[strings.LastIndex(ref, ":")+1:]
	if strings.LastIndex(ref, ":") < strings.LastIndex(ref, "/") {
		tag = "latest"
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          ref,
		"org.opencontainers.image.ref.name": tag,
	}))
}

// tarDir packs dir into a tar with sorted entries and fixed times.
func tarDir(dir, out string, at time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: at, Mode: 0o644, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// report prints the index digest (what a chart's image.digest takes), each
// platform's manifest digest and compressed size, and the time it took.
func report(w io.Writer, idx v1.ImageIndex, ps []Platform, images map[Platform]v1.Image, out, ref string, took time.Duration) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "image %s\ndigest %s\nlayout %s\ntar %s.tar\n", ref, d, out, out)
	for _, p := range ps {
		img := images[p]
		md, err := img.Digest()
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var compressed, uncompressed int64
		for _, l := range layers {
			s, err := l.Size()
			if err != nil {
				return err
			}
			compressed += s
			rc, err := l.Uncompressed()
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, rc)
			_ = rc.Close()
			if err != nil {
				return err
			}
			uncompressed += n
		}
		fmt.Fprintf(w, "  %-12s %s  %.1f MiB compressed, %.1f MiB unpacked\n", p, md, float64(compressed)/(1<<20), float64(uncompressed)/(1<<20))
	}
	fmt.Fprintf(w, "built in %s\n", took.Round(100*time.Millisecond))
	return nil
}
