// Package test holds helpers shared by the project's test suites.
package test

import (
	"fmt"
	"os"
	"path/filepath"
)

// UseLocalControlPlane points envtest at the etcd and kube-apiserver that
// `make tools` builds into the repository's bin/, unless KUBEBUILDER_ASSETS
// already names a directory. It returns an error that says how to get the
// binaries when they are missing, so a plain `go test ./...` explains itself.
func UseLocalControlPlane() error {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return checkAssets(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "bin")
	if err := checkAssets(dir); err != nil {
		return err
	}
	return os.Setenv("KUBEBUILDER_ASSETS", dir)
}

func checkAssets(dir string) error {
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("envtest needs %s in %s: run `make tools` (or `make test`) first: %w", name, dir, err)
		}
	}
	return nil
}

// RepoRoot is the directory holding the project's go.mod, found by walking up
// from the working directory (a test's package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "build-tools.sh")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no repository root above the working directory")
		}
		dir = parent
	}
}
