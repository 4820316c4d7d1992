package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The control plane's components, in start order, with the flags each
// runs with and how Start tells that it is ready.

// componentPorts are the loopback ports of the control plane.
type componentPorts struct {
	etcdClient, etcdPeer, apiServer, controllerManager, scheduler int
}

func freeComponentPorts() (componentPorts, error) {
	ports, err := freePorts(5)
	if err != nil {
		return componentPorts{}, err
	}
	return componentPorts{etcdClient: ports[0], etcdPeer: ports[1], apiServer: ports[2], controllerManager: ports[3], scheduler: ports[4]}, nil
}

// component is a control-plane process to start: its binary's name (in
// Options.BinDir), the address shown to the user, its flags, and its
// readiness check (nil: it is given a moment to fail fast; see settle).
type component struct {
	name, address string
	args          []string
	ready         func(context.Context) error
}

// controlPlane lists the components in start order: each needs the ones
// before it.
func (c *Cluster) controlPlane(ports componentPorts) []component {
	stateDir := c.opts.StateDir
	return []component{
		{"etcd", fmt.Sprintf("http://127.0.0.1:%d", ports.etcdClient), []string{
			"--name=local",
			"--data-dir=" + filepath.Join(stateDir, "etcd"),
			fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", ports.etcdClient),
			fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", ports.etcdClient),
			fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", ports.etcdPeer),
			fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", ports.etcdPeer),
			fmt.Sprintf("--initial-cluster=local=http://127.0.0.1:%d", ports.etcdPeer),
			// The state is thrown away on every start, so durability buys nothing.
			"--unsafe-no-fsync",
			"--quota-backend-bytes=4294967296",
			"--log-level=warn",
		}, httpReady(fmt.Sprintf("http://127.0.0.1:%d/health", ports.etcdClient), nil)},
		{"kube-apiserver", c.Server, []string{
			fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", ports.etcdClient),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports.apiServer),
			"--tls-cert-file=" + c.pki.servingCert(),
			"--tls-private-key-file=" + c.pki.servingKey(),
			"--client-ca-file=" + c.pki.caCert(),
			"--service-account-key-file=" + c.pki.serviceAccountPub(),
			"--service-account-signing-key-file=" + c.pki.serviceAccountKey(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--api-audiences=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--authorization-mode=Node,RBAC",
			// Nodes join as kubelets do on AKS: TLS bootstrapping with a
			// bootstrap token; then each node may change only its own Node,
			// and only labels a kubelet may set.
			"--enable-bootstrap-token-auth=true",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--cert-dir=" + filepath.Join(stateDir, "apiserver"),
			"--v=1",
		}, c.apiServerReady},
		{"kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d", ports.controllerManager), []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports.controllerManager),
			"--leader-elect=false",
			"--cluster-name=azkarpenter-local",
			"--root-ca-file=" + c.pki.caCert(),
			"--service-account-private-key-file=" + c.pki.serviceAccountKey(),
			"--cert-dir=" + filepath.Join(stateDir, "kube-controller-manager"),
			// The bootstrap signer and token cleaner are off by default; the
			// CSR signer signs kubelet client certificates with the cluster CA.
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--cluster-signing-cert-file=" + c.pki.caCert(),
			"--cluster-signing-key-file=" + c.pki.caKey(),
			"--kube-api-qps=200",
			"--kube-api-burst=400",
			"--v=1",
		}, httpReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", ports.controllerManager), insecureTLS())},
		{"kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d", ports.scheduler), []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports.scheduler),
			"--leader-elect=false",
			"--cert-dir=" + filepath.Join(stateDir, "kube-scheduler"),
			"--v=1",
		}, httpReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", ports.scheduler), insecureTLS())},
		{"kwok", "manages nodes annotated " + KwokNodeAnnotation + "=fake", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--config=" + filepath.Join(stateDir, "kwok.yaml"),
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
			"--node-lease-duration-seconds=40",
			// Pod IPs are only labels here: a /16 leaves room for benchmark fleets.
			"--cidr=10.0.0.1/16",
		}, nil},
	}
}

// writeKwokConfig writes kwok.yaml. kwok reads ~/.kwok/kwok.yaml unless
// told otherwise; a config of our own keeps a developer's personal config
// out of the cluster and replaces kwok's default node stages (see
// kwok.yaml).
func (c *Cluster) writeKwokConfig() error {
	config := kwokConfig
	if len(c.opts.KwokStages) > 0 {
		config = append(append(append([]byte{}, kwokConfig...), "\n---\n"...), c.opts.KwokStages...)
	}
	return os.WriteFile(filepath.Join(c.opts.StateDir, "kwok.yaml"), config, 0o644)
}

// startComponent starts one component and waits until it is ready.
func (c *Cluster) startComponent(ctx context.Context, comp component) error {
	_, err := c.StartService(ctx, Service{
		Name:    comp.name,
		Binary:  filepath.Join(c.opts.BinDir, comp.name),
		Args:    append(comp.args, c.opts.ExtraArgs[comp.name]...),
		Address: comp.address,
		Ready:   comp.ready,
	})
	return err
}
