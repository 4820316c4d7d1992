//go:build e2e

package realkubelet

import (
	"context"
	"os"
	"path/filepath"

	"github.com/azkarpenter/azkarpenter/test/e2e/realkubelet/aksnode"
)

// The host machinery, for other suites that run a real kubelet (the chart's
// pod on a real node, test/e2e/helmpod): a thin exported face over this
// package's own, so that changes to how this spec sets up the machine stay
// here.

// Host is the machine prepared for a kubelet: containerd with its own
// root, state and socket, a bridge CNI network, and a cleanup that puts
// the machine back.
type Host struct{ h *host }

// MissingDeps names what the machine lacks to run a real kubelet.
func MissingDeps(kubeletBin string) []string { return missingDeps(kubeletBin) }

// NewHost lays out dir (short: containerd's socket path is limited) and
// records what the machine looks like before the test.
func NewHost(dir, logDir string, logf func(string, ...any)) (*Host, error) {
	h, err := newHost(dir, logDir, logf)
	if err != nil {
		return nil, err
	}
	return &Host{h: h}, nil
}

// SystemPauseImage is the sandbox image of a host that is not a node from
// custom data (Start): a name of the suite's own, as no node image names it.
const SystemPauseImage = "registry.k8s.io/pause:3.10"

// Start starts containerd, configured as aksnode renders it with
// SystemPauseImage as its sandbox image, and imports that image.
func (h *Host) Start(ctx context.Context) error {
	cfg, err := aksnode.MachineContainerdConfig(SystemPauseImage, h.h.machine(0, 0))
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(h.h.dir, "containerd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := h.h.startContainerd(ctx, cfgPath); err != nil {
		return err
	}
	if err := h.h.buildProgram(ctx); err != nil {
		return err
	}
	return h.h.importImage(ctx, SystemPauseImage)
}

// Socket is containerd's CRI socket.
func (h *Host) Socket() string { return h.h.socket }

// Ctr runs ctr against the host's containerd, in the CRI namespace.
func (h *Host) Ctr(ctx context.Context, args ...string) (string, error) { return h.h.ctr(ctx, args...) }

// Cleanup puts the machine back.
func (h *Host) Cleanup() error { return h.h.cleanup() }
