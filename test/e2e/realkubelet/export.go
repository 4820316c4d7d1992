//go:build e2e

package realkubelet

import "context"

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

// Start starts containerd and imports the pause image it runs sandboxes with.
func (h *Host) Start(ctx context.Context) error {
	if err := h.h.startContainerd(ctx); err != nil {
		return err
	}
	return h.h.buildPauseImage(ctx)
}

// Socket is containerd's CRI socket.
func (h *Host) Socket() string { return h.h.socket }

// Ctr runs ctr against the host's containerd, in the CRI namespace.
func (h *Host) Ctr(ctx context.Context, args ...string) (string, error) { return h.h.ctr(ctx, args...) }

// Cleanup puts the machine back.
func (h *Host) Cleanup() error { return h.h.cleanup() }
