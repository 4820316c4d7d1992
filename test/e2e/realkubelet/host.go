//go:build e2e

package realkubelet

// The machine side of a real kubelet: Debian's containerd with its own
// configuration, root, state and socket under one directory; a pause image
// built here (there is no registry); a bridge CNI network; and the cleanup
// that puts the machine back (processes, mounts, the bridge, iptables
// chains, ip_forward, cgroups), even after a failure.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/azkarpenter/azkarpenter/test/e2e/realkubelet/aksnode"
)

// What the real kubelet needs on the machine, and where Debian puts it.
const (
	cniBinDir  = "/usr/lib/cni"
	bridgeName = "azkcni0"
	cniNetwork = "azkarpenter-realkubelet"
	podSubnet  = "10.244.0.0/24"
	// appImage is the image of the test's pod: the same static program as
	// the pause image, under a name of the test's own.
	appImage = "azkarpenter.test/sleep:1"
)

// missingDeps names what the machine lacks to run a real kubelet.
func missingDeps(kubeletBin string) []string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (the kubelet and containerd manage cgroups, mounts and network interfaces)")
	}
	if _, err := os.Stat(kubeletBin); err != nil {
		missing = append(missing, kubeletBin+" (make tools)")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" (Debian package containerd)")
		}
	}
	if _, err := exec.LookPath("runc"); err != nil {
		missing = append(missing, "runc (Debian package runc)")
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
			missing = append(missing, filepath.Join(cniBinDir, p)+" (Debian package containernetworking-plugins)")
		}
	}
	for _, bin := range []string{"iptables", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	return missing
}

// host is the machine prepared for one kubelet.
type host struct {
	dir        string
	logDir     string
	socket     string
	containerd *exec.Cmd
	logf       func(format string, args ...any)

	ipForward string              // net.ipv4.ip_forward before the test
	chains    map[string][]string // iptables chains before the test, by table
	lock      *os.File            // holds machineLock until cleanup
}

// machineLock is held by the one real kubelet a machine runs at a time. The
// kubelet's ports, the bridge, iptables chains, ip_forward and the kubelet's
// cgroups are the machine's, and each host's cleanup puts them back as they
// were before it started: two at once (the realkubelet and helmpod suites,
// which `make e2e` runs in parallel) would undo each other's.
var machineLock = filepath.Join(os.TempDir(), "azkarpenter-realkubelet.lock")

// lockMachine waits until no other real kubelet runs on the machine.
func lockMachine(logf func(string, ...any)) (*os.File, error) {
	f, err := os.OpenFile(machineLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		return f, nil
	}
	logf("waiting for the real kubelet of another suite to finish (%s)", machineLock)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", machineLock, err)
	}
	return f, nil
}

// newHost records what the test may change and lays out its directory. dir
// must be short: containerd's socket path is limited to 108 bytes.
func newHost(dir, logDir string, logf func(string, ...any)) (*host, error) {
	machine, err := lockMachine(logf)
	if err != nil {
		return nil, err
	}
	h := &host{dir: dir, logDir: logDir, socket: filepath.Join(dir, "containerd.sock"), logf: logf, chains: map[string][]string{}, lock: machine}
	ok := false
	defer func() {
		if !ok {
			_ = machine.Close()
		}
	}()
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return nil, err
	}
	h.ipForward = strings.TrimSpace(string(fwd))
	for _, table := range iptablesTables {
		chains, err := iptablesChains(table)
		if err != nil {
			return nil, err
		}
		h.chains[table] = chains
	}
	for _, d := range []string{"containerd/root", "containerd/state", "cni/net.d", "cni/ipam", "images"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	ok = true
	return h, nil
}

// cniConfig is a bridge network with host-local addresses: enough for the
// runtime to report its network ready and give a pod an address. No gateway
// and no masquerading: the pod needs no way out, and the machine keeps its
// forwarding and NAT rules.
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": %[1]q,
  "plugins": [{
    "type": "bridge",
    "bridge": %[2]q,
    "isGateway": false,
    "ipMasq": false,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %[3]q}]], "dataDir": %[4]q}
  }]
}
`

// machine is what this host changes for a node (aksnode.Machine): its own
// containerd and CNI directories, loopback serving on ports of the test's.
func (h *host) machine(kubeletPort, healthzPort int32) *aksnode.Machine {
	return &aksnode.Machine{
		ContainerdSocket: h.socket, ContainerdRoot: filepath.Join(h.dir, "containerd/root"), ContainerdState: filepath.Join(h.dir, "containerd/state"),
		ContainerdOpt: filepath.Join(h.dir, "containerd/opt"), CNIBinDir: cniBinDir, CNIConfDir: filepath.Join(h.dir, "cni/net.d"),
		Address: "127.0.0.1", Port: kubeletPort, HealthzPort: healthzPort,
		RootDir: filepath.Join(h.dir, "kubelet"), CertDir: filepath.Join(h.dir, "kubelet", "pki"), ResolvConf: "/etc/resolv.conf",
	}
}

// startContainerd starts containerd with the configuration the node's
// custom data rendered (aksnode.Render), on the machine's bridge network,
// and waits for its socket.
func (h *host) startContainerd(ctx context.Context, cfgPath string) error {
	cni := fmt.Sprintf(cniConfig, cniNetwork, bridgeName, podSubnet, filepath.Join(h.dir, "cni/ipam"))
	if err := os.WriteFile(filepath.Join(h.dir, "cni/net.d/10-bridge.conflist"), []byte(cni), 0o644); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(h.logDir, "containerd.log"))
	if err != nil {
		return err
	}
	h.containerd = exec.Command("containerd", "--config", cfgPath)
	h.containerd.Stdout, h.containerd.Stderr = log, log
	h.containerd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.containerd.Start(); err != nil {
		_ = log.Close()
		return err
	}
	_ = log.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := h.ctr(ctx, "version"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not answer on %s within 30s; see %s", h.socket, filepath.Join(h.logDir, "containerd.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *host) ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", h.socket, "--namespace", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// pauseProgram sleeps until it is told to stop, as the pause image does.
const pauseProgram = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
`

// buildProgram compiles the pause program statically, once: the pause
// image and the pod's image are both it.
func (h *host) buildProgram(ctx context.Context) error {
	src := filepath.Join(h.dir, "images/pause-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(pauseProgram), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module pause\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(h.dir, "images/pause"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the pause program: %w: %s", err, out)
	}
	return nil
}

// importImage packs the program as an OCI image named ref and imports it
// into containerd's CRI namespace, as the node image caches its images.
func (h *host) importImage(ctx context.Context, ref string) error {
	program, err := os.ReadFile(filepath.Join(h.dir, "images/pause"))
	if err != nil {
		return err
	}
	archive, err := ociArchive(ref, "/pause", program)
	if err != nil {
		return err
	}
	tarPath := filepath.Join(h.dir, "images", digest([]byte(ref))[7:19]+".tar")
	if err := os.WriteFile(tarPath, archive, 0o644); err != nil {
		return err
	}
	_, err = h.ctr(ctx, "images", "import", "--all-platforms", tarPath)
	return err
}

// images are the image references containerd holds.
func (h *host) images(ctx context.Context) ([]string, error) {
	out, err := h.ctr(ctx, "images", "ls", "-q")
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, ref := range strings.Fields(out) {
		if !strings.HasPrefix(ref, "sha256:") {
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// ociArchive is an OCI image layout, as a tar, of one uncompressed layer
// holding the program at path, run as the image's entrypoint.
func ociArchive(ref, path string, program []byte) ([]byte, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(path, "/"), Mode: 0o755, Size: int64(len(program)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(program); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerDigest := digest(layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{path}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	if err != nil {
		return nil, err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layer.Len()}},
	})
	if err != nil {
		return nil, err
	}
	_, tag, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest), "size": len(manifest),
			"platform":    map[string]string{"architecture": "amd64", "os": "linux"},
			"annotations": map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag},
		}},
	})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	add := func(name string, data []byte) error {
		if err := ow.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := ow.Write(data)
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"blobs/sha256/" + strings.TrimPrefix(digest(config), "sha256:"), config},
		{"blobs/sha256/" + strings.TrimPrefix(digest(manifest), "sha256:"), manifest},
		{"blobs/sha256/" + strings.TrimPrefix(layerDigest, "sha256:"), layer.Bytes()},
	} {
		if err := add(f.name, f.data); err != nil {
			return nil, err
		}
	}
	if err := ow.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// cleanup puts the machine back: containers, containerd and its shims,
// mounts under the directory, the bridge, iptables chains the kubelet or
// CNI added, ip_forward and the kubelet's cgroups. It reports what it could
// not undo.
func (h *host) cleanup() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if h.containerd != nil && h.containerd.Process != nil {
		// Containers the kubelet left (it was stopped before their pods
		// were deleted): kill their tasks through containerd.
		if out, err := h.ctr(ctx, "tasks", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				_, _ = h.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
			}
		}
		_ = h.containerd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = h.containerd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = h.containerd.Process.Kill()
			<-done
		}
	}
	// containerd's shims outlive it; they (and anything else started for
	// this directory) name it on their command line.
	for _, pid := range processesNaming(h.dir) {
		h.logf("killing leftover process %d", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	errs = append(errs, unmountUnder(h.dir)...)
	if _, err := os.Stat("/sys/class/net/" + bridgeName); err == nil {
		if out, err := exec.Command("ip", "link", "delete", bridgeName).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting the bridge %s: %w: %s", bridgeName, err, out))
		}
	}
	for _, table := range iptablesTables {
		errs = append(errs, removeNewChains(table, h.chains[table])...)
	}
	if h.ipForward != "" {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(h.ipForward), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring net.ipv4.ip_forward=%s: %w", h.ipForward, err))
		}
	}
	errs = append(errs, removeKubeletCgroups()...)
	if err := os.RemoveAll(h.dir); err != nil {
		errs = append(errs, err)
	}
	if h.lock != nil {
		// The machine is back as it was: the next real kubelet may start.
		_ = h.lock.Close()
		h.lock = nil
	}
	return errors.Join(errs...)
}

// processesNaming returns the processes whose command line mentions s.
func processesNaming(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) []error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []error{err}
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
		}
	}
	return errs
}

var iptablesTables = []string{"filter", "nat", "mangle"}

// iptablesChains lists a table's chains.
func iptablesChains(table string) ([]string, error) {
	out, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
	if err != nil {
		return nil, fmt.Errorf("iptables -t %s -S: %w", table, err)
	}
	var chains []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "-N" || f[0] == "-P") {
			chains = append(chains, f[1])
		}
	}
	return chains, nil
}

// removeNewChains deletes the chains of a table that were not there before
// (the kubelet's KUBE-KUBELET-CANARY and KUBE-IPTABLES-HINT, CNI-* chains),
// with the rules that jump to them.
func removeNewChains(table string, before []string) []error {
	now, err := iptablesChains(table)
	if err != nil {
		return []error{err}
	}
	known := map[string]bool{}
	for _, c := range before {
		known[c] = true
	}
	added := map[string]bool{}
	for _, c := range now {
		if !known[c] {
			added[c] = true
		}
	}
	if len(added) == 0 {
		return nil
	}
	out, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" || added[f[1]] {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if (f[i] == "-j" || f[i] == "-g") && added[f[i+1]] {
				// The rule as iptables -S printed it, deleted by spec. Rules
				// with quoted comments print quoted; iptables reads them back
				// from separate arguments, so strip the quotes.
				args := append([]string{"-w", "-t", table, "-D"}, unquote(f[1:])...)
				if o, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, o))
				}
				break
			}
		}
	}
	for c := range added {
		_ = exec.Command("iptables", "-w", "-t", table, "-F", c).Run()
		if o, err := exec.Command("iptables", "-w", "-t", table, "-X", c).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("iptables -t %s -X %s: %w: %s", table, c, err, o))
		}
	}
	return errs
}

func unquote(f []string) []string {
	out := make([]string, 0, len(f))
	for _, s := range f {
		out = append(out, strings.Trim(s, `"`))
	}
	return out
}

// removeKubeletCgroups removes the kubelet's cgroup trees (cgroupfs driver:
// kubepods under each controller), deepest first; only empty ones go.
func removeKubeletCgroups() []error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
				break
			}
		}
	}
	return errs
}

// processRSS is a process's resident set, in bytes (0 once it is gone).
func processRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
