package v1beta1

import (
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
)

// LocalDNSMode says whether nodes run LocalDNS.
// +kubebuilder:validation:Enum:={Preferred,Required,Disabled}
type LocalDNSMode string

const (
	// LocalDNSModePreferred enables LocalDNS when the cluster meets its
	// requirements (status.localDNSState says whether it is on).
	LocalDNSModePreferred LocalDNSMode = "Preferred"
	// LocalDNSModeRequired always enables LocalDNS.
	LocalDNSModeRequired LocalDNSMode = "Required"
	// LocalDNSModeDisabled never enables LocalDNS.
	LocalDNSModeDisabled LocalDNSMode = "Disabled"
)

// LocalDNSState is whether new nodes get LocalDNS.
// +kubebuilder:validation:Enum:={Enabled,Disabled}
type LocalDNSState string

const (
	LocalDNSStateEnabled  LocalDNSState = "Enabled"
	LocalDNSStateDisabled LocalDNSState = "Disabled"
)

// LocalDNS configures the DNS cache that runs on each node. Queries from
// pods that use the cluster's DNS (kubeDNSOverrides) and from the node and
// host-network pods (vnetDNSOverrides) are answered per zone.
type LocalDNS struct {
	// mode is Preferred, Required or Disabled.
	// +required
	Mode LocalDNSMode `json:"mode,omitempty"`
	// vnetDNSOverrides configure the zones queried by the node and by pods
	// on the host network. They must include '.' and 'cluster.local'.
	// +kubebuilder:validation:XValidation:message="must contain required zones '.' and 'cluster.local'",rule="['.', 'cluster.local'].all(z, self.exists(x, x.zone == z))"
	// +kubebuilder:validation:XValidation:message="root zone '.' cannot be forwarded to ClusterCoreDNS from vnetDNSOverrides",rule="!self.exists(x, x.zone == '.' && x.forwardDestination == 'ClusterCoreDNS')"
	// +kubebuilder:validation:XValidation:message="external domains cannot be forwarded to ClusterCoreDNS from vnetDNSOverrides",rule="!self.exists(x, x.zone != '.' && !x.zone.endsWith('cluster.local') && x.forwardDestination == 'ClusterCoreDNS')"
	// +kubebuilder:validation:MaxItems=100
	// +listType=map
	// +listMapKey=zone
	// +required
	VNetDNSOverrides []LocalDNSZoneOverride `json:"vnetDNSOverrides,omitempty"`
	// kubeDNSOverrides configure the zones queried by pods that use the
	// cluster's DNS. They must include '.' and 'cluster.local'.
	// +kubebuilder:validation:XValidation:message="must contain required zones '.' and 'cluster.local'",rule="['.', 'cluster.local'].all(z, self.exists(x, x.zone == z))"
	// +kubebuilder:validation:MaxItems=100
	// +listType=map
	// +listMapKey=zone
	// +required
	KubeDNSOverrides []LocalDNSZoneOverride `json:"kubeDNSOverrides,omitempty"`
}

// LocalDNSZoneOverride is how LocalDNS answers one DNS zone.
// +kubebuilder:validation:XValidation:message="'cluster.local' cannot be forwarded to VnetDNS",rule="!(self.zone.endsWith('cluster.local') && self.forwardDestination == 'VnetDNS')"
// +kubebuilder:validation:XValidation:message="serveStale Verify cannot be used with protocol ForceTCP",rule="!(self.serveStale == 'Verify' && self.protocol == 'ForceTCP')"
type LocalDNSZoneOverride struct {
	// zone is the DNS zone: '.', 'cluster.local' or a domain.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^(\.|[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?)$`
	// +required
	Zone string `json:"zone"`
	// queryLogging is Error (log failures only) or Log (log every query).
	// +kubebuilder:validation:Enum:={Error,Log}
	// +required
	QueryLogging LocalDNSQueryLogging `json:"queryLogging"`
	// protocol to the upstream server: PreferUDP or ForceTCP.
	// +kubebuilder:validation:Enum:={PreferUDP,ForceTCP}
	// +required
	Protocol LocalDNSProtocol `json:"protocol"`
	// forwardDestination is the upstream: ClusterCoreDNS or VnetDNS.
	// +kubebuilder:validation:Enum:={ClusterCoreDNS,VnetDNS}
	// +required
	ForwardDestination LocalDNSForwardDestination `json:"forwardDestination"`
	// forwardPolicy picks among several upstream servers: Sequential,
	// RoundRobin or Random.
	// +kubebuilder:validation:Enum:={Sequential,RoundRobin,Random}
	// +required
	ForwardPolicy LocalDNSForwardPolicy `json:"forwardPolicy"`
	// maxConcurrent is the most concurrent queries to the upstream.
	// +kubebuilder:validation:Minimum=0
	// +required
	MaxConcurrent *int32 `json:"maxConcurrent"`
	// cacheDuration is how long answers are cached, e.g. 1h or 30m.
	// +kubebuilder:validation:Type="string"
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Pattern=`^([0-9]+(s|m|h))+$`
	// +required
	CacheDuration karpv1.NillableDuration `json:"cacheDuration"`
	// serveStaleDuration is how long a stale answer may be served.
	// +kubebuilder:validation:Type="string"
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Pattern=`^([0-9]+(s|m|h))+$`
	// +required
	ServeStaleDuration karpv1.NillableDuration `json:"serveStaleDuration"`
	// serveStale is Verify (check the upstream first), Immediate (serve stale
	// then refresh) or Disable.
	// +kubebuilder:validation:Enum:={Verify,Immediate,Disable}
	// +required
	ServeStale LocalDNSServeStale `json:"serveStale"`
}

// LocalDNSQueryLogging is the LocalDNS query log level.
type LocalDNSQueryLogging string

// LocalDNSProtocol is the protocol to the upstream DNS server.
type LocalDNSProtocol string

// LocalDNSForwardDestination is where LocalDNS forwards a zone.
type LocalDNSForwardDestination string

// LocalDNSForwardPolicy picks among upstream servers.
type LocalDNSForwardPolicy string

// LocalDNSServeStale is how LocalDNS serves stale answers.
type LocalDNSServeStale string

// Values of the LocalDNS enums.
const (
	LocalDNSForwardDestinationClusterCoreDNS LocalDNSForwardDestination = "ClusterCoreDNS"
	LocalDNSForwardDestinationVnetDNS        LocalDNSForwardDestination = "VnetDNS"
)
