package localcluster

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// APIServerFQDN is the local cluster's API server name as nodes see it, in
// AKS's form. The serving certificate covers it; nodes reach it on port 443
// through the simulated network (azuresim routes it to the real address).
const APIServerFQDN = "azkarpenter-local-dns-00000000.hcp.eastus.azmk8s.io"

// NetworkSecurityGroupName is the local cluster's network security group,
// named as AKS names one (aks-agentpool-<cluster id>-nsg).
const NetworkSecurityGroupName = "aks-agentpool-31415926-nsg"

// ClusterDNSIP is the kube-dns Service address nodes are told.
const ClusterDNSIP = "10.96.0.10"

// prepareNodeJoin creates what an AKS cluster has for nodes to join: a
// bootstrap token, the RBAC that lets its holders request kubelet client
// certificates (auto-approved) and renew them, and the kube-dns Service.
func (c *Cluster) prepareNodeJoin(ctx context.Context) error {
	kc, err := c.Client()
	if err != nil {
		return err
	}
	token, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return err
	}
	id, secret, _ := strings.Cut(token, ".")
	c.BootstrapToken = token
	objs := []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: bootstraputil.BootstrapTokenSecretName(id)},
			Type:       bootstrapapi.SecretTypeBootstrapToken,
			StringData: map[string]string{
				bootstrapapi.BootstrapTokenIDKey:               id,
				bootstrapapi.BootstrapTokenSecretKey:           secret,
				bootstrapapi.BootstrapTokenUsageAuthentication: "true",
				bootstrapapi.BootstrapTokenDescriptionKey:      "azkarpenter local cluster: nodes TLS-bootstrap with this token",
				bootstrapapi.BootstrapTokenExpirationKey:       time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
			},
		},
		clusterRoleBinding("azkarpenter:kubelet-bootstrap", "system:node-bootstrapper", bootstrapapi.BootstrapDefaultGroup),
		clusterRoleBinding("azkarpenter:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", bootstrapapi.BootstrapDefaultGroup),
		clusterRoleBinding("azkarpenter:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "kube-dns", Labels: map[string]string{"k8s-app": "kube-dns"}},
			Spec: corev1.ServiceSpec{
				ClusterIP: ClusterDNSIP,
				Selector:  map[string]string{"k8s-app": "kube-dns"},
				Ports: []corev1.ServicePort{
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
				},
			},
		},
	}
	for _, o := range objs {
		if err := kc.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// CACertificate is the cluster CA (PEM) nodes are told to trust.
func (c *Cluster) CACertificate() ([]byte, error) {
	return os.ReadFile(c.pki.caCert())
}

// APIServerAddress is where the API server really listens (host:port): the
// simulated network's route for APIServerFQDN on port 443 leads here.
func (c *Cluster) APIServerAddress() string {
	u, err := url.Parse(c.Server)
	if err != nil {
		return ""
	}
	return u.Host
}

func clusterRoleBinding(name, role, group string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}},
	}
}
