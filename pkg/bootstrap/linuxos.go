package bootstrap

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
)

// LinuxOS tunes a Linux node's kernel.
type LinuxOS struct {
	// Sysctls are kernel parameters by their kernel name
	// (net.core.somaxconn), from the set AKS lets users set (Sysctls).
	Sysctls map[string]string
	// SwapFileSizeMB is the size of a swap file; 0 for none.
	SwapFileSizeMB int32
	// TransparentHugePageEnabled and TransparentHugePageDefrag are the
	// transparent huge page modes ("" keeps the image's).
	TransparentHugePageEnabled string
	TransparentHugePageDefrag  string
}

// Sysctl is one kernel parameter AKS lets users set: its kernel name, its
// AKSNodeConfig field and its AKSNodeClass field.
type Sysctl struct {
	Kernel, NodeConfig, NodeClass string
}

// Sysctls are the kernel parameters AKS lets users set.
var Sysctls = []Sysctl{
	{"fs.aio-max-nr", "fs_aio_max_nr", "fsAioMaxNr"},
	{"fs.file-max", "fs_file_max", "fsFileMax"},
	{"fs.inotify.max_user_watches", "fs_inotify_max_user_watches", "fsInotifyMaxUserWatches"},
	{"fs.nr_open", "fs_nr_open", "fsNrOpen"},
	{"kernel.threads-max", "kernel_threads_max", "kernelThreadsMax"},
	{"net.core.netdev_max_backlog", "net_core_netdev_max_backlog", "netCoreNetdevMaxBacklog"},
	{"net.core.optmem_max", "net_core_optmem_max", "netCoreOptmemMax"},
	{"net.core.rmem_default", "net_core_rmem_default", "netCoreRmemDefault"},
	{"net.core.rmem_max", "net_core_rmem_max", "netCoreRmemMax"},
	{"net.core.somaxconn", "net_core_somaxconn", "netCoreSomaxconn"},
	{"net.core.wmem_default", "net_core_wmem_default", "netCoreWmemDefault"},
	{"net.core.wmem_max", "net_core_wmem_max", "netCoreWmemMax"},
	{"net.ipv4.ip_local_port_range", "net_ipv4_ip_local_port_range", "netIPv4IPLocalPortRange"},
	{"net.ipv4.neigh.default.gc_thresh1", "net_ipv4_neigh_default_gc_thresh1", "netIPv4NeighDefaultGcThresh1"},
	{"net.ipv4.neigh.default.gc_thresh2", "net_ipv4_neigh_default_gc_thresh2", "netIPv4NeighDefaultGcThresh2"},
	{"net.ipv4.neigh.default.gc_thresh3", "net_ipv4_neigh_default_gc_thresh3", "netIPv4NeighDefaultGcThresh3"},
	{"net.ipv4.tcp_fin_timeout", "net_ipv4_tcp_fin_timeout", "netIPv4TCPFinTimeout"},
	{"net.ipv4.tcp_keepalive_intvl", "net_ipv4_tcpkeepalive_intvl", "netIPv4TCPKeepaliveIntvl"},
	{"net.ipv4.tcp_keepalive_probes", "net_ipv4_tcp_keepalive_probes", "netIPv4TCPKeepaliveProbes"},
	{"net.ipv4.tcp_keepalive_time", "net_ipv4_tcp_keepalive_time", "netIPv4TCPKeepaliveTime"},
	{"net.ipv4.tcp_max_syn_backlog", "net_ipv4_tcp_max_syn_backlog", "netIPv4TCPMaxSynBacklog"},
	{"net.ipv4.tcp_max_tw_buckets", "net_ipv4_tcp_max_tw_buckets", "netIPv4TCPMaxTwBuckets"},
	{"net.ipv4.tcp_tw_reuse", "net_ipv4_tcp_tw_reuse", "netIPv4TCPTwReuse"},
	{"net.netfilter.nf_conntrack_buckets", "net_netfilter_nf_conntrack_buckets", "netNetfilterNfConntrackBuckets"},
	{"net.netfilter.nf_conntrack_max", "net_netfilter_nf_conntrack_max", "netNetfilterNfConntrackMax"},
	{"vm.max_map_count", "vm_max_map_count", "vmMaxMapCount"},
	{"vm.swappiness", "vm_swappiness", "vmSwappiness"},
	{"vm.vfs_cache_pressure", "vm_vfs_cache_pressure", "vmVfsCachePressure"},
}

// sysctlConfig converts kernel parameters to the AKSNodeConfig's typed
// fields: through JSON, where a number or boolean is written as such.
func sysctlConfig(kernel map[string]string) (*aksnodeconfig.SysctlConfig, error) {
	if len(kernel) == 0 {
		return nil, nil
	}
	fields := map[string]any{}
	for _, s := range Sysctls {
		v, ok := kernel[s.Kernel]
		if !ok {
			continue
		}
		switch s.Kernel {
		case "net.ipv4.ip_local_port_range":
			fields[s.NodeConfig] = v
		case "net.ipv4.tcp_tw_reuse":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("sysctl %s=%q: %w", s.Kernel, v, err)
			}
			fields[s.NodeConfig] = b
		default:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("sysctl %s=%q: %w", s.Kernel, v, err)
			}
			fields[s.NodeConfig] = n
		}
	}
	if len(fields) != len(kernel) {
		return nil, fmt.Errorf("sysctls %v include some AKS does not let nodes set", kernel)
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	out := &aksnodeconfig.SysctlConfig{}
	return out, json.Unmarshal(raw, out)
}

// kernelSysctls reads the AKSNodeConfig's typed fields back by kernel name.
func kernelSysctls(c *aksnodeconfig.SysctlConfig) (map[string]string, error) {
	if c == nil {
		return nil, nil
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range Sysctls {
		if v, ok := fields[s.NodeConfig]; ok {
			out[s.Kernel] = fmt.Sprint(v)
		}
	}
	return out, nil
}

// LocalDNS configures the node's DNS cache.
type LocalDNS struct {
	// VNetDNSOverrides and KubeDNSOverrides are the per-zone behaviour for
	// queries from the node (and host-network pods) and from pods.
	VNetDNSOverrides map[string]LocalDNSOverride
	KubeDNSOverrides map[string]LocalDNSOverride
}

// LocalDNSOverride is how LocalDNS answers one zone.
type LocalDNSOverride struct {
	QueryLogging       string
	Protocol           string
	ForwardDestination string
	ForwardPolicy      string
	MaxConcurrent      *int32
	CacheDuration      time.Duration
	ServeStaleDuration time.Duration
	ServeStale         string
}

func localDNSProfile(l *LocalDNS) *aksnodeconfig.LocalDNSProfile {
	if l == nil {
		return nil
	}
	conv := func(in map[string]LocalDNSOverride) map[string]aksnodeconfig.LocalDNSOverrides {
		out := make(map[string]aksnodeconfig.LocalDNSOverrides, len(in))
		for zone, o := range in {
			out[zone] = aksnodeconfig.LocalDNSOverrides{
				QueryLogging: o.QueryLogging, Protocol: o.Protocol, ForwardDestination: o.ForwardDestination, ForwardPolicy: o.ForwardPolicy,
				MaxConcurrent: o.MaxConcurrent, CacheDurationInSeconds: seconds(o.CacheDuration), ServeStaleDurationInSeconds: seconds(o.ServeStaleDuration),
				ServeStale: o.ServeStale,
			}
		}
		return out
	}
	return &aksnodeconfig.LocalDNSProfile{EnableLocalDNS: true, VNetDNSOverrides: conv(l.VNetDNSOverrides), KubeDNSOverrides: conv(l.KubeDNSOverrides)}
}

func fromLocalDNSProfile(p *aksnodeconfig.LocalDNSProfile) *LocalDNS {
	if p == nil || !p.EnableLocalDNS {
		return nil
	}
	conv := func(in map[string]aksnodeconfig.LocalDNSOverrides) map[string]LocalDNSOverride {
		out := make(map[string]LocalDNSOverride, len(in))
		for zone, o := range in {
			out[zone] = LocalDNSOverride{
				QueryLogging: o.QueryLogging, Protocol: o.Protocol, ForwardDestination: o.ForwardDestination, ForwardPolicy: o.ForwardPolicy,
				MaxConcurrent: o.MaxConcurrent, CacheDuration: duration(o.CacheDurationInSeconds), ServeStaleDuration: duration(o.ServeStaleDurationInSeconds),
				ServeStale: o.ServeStale,
			}
		}
		return out
	}
	return &LocalDNS{VNetDNSOverrides: conv(p.VNetDNSOverrides), KubeDNSOverrides: conv(p.KubeDNSOverrides)}
}

// seconds is d in whole seconds, saturating at int32's range: the fields it
// fills (timeouts of a few seconds) never come near it.
func seconds(d time.Duration) *int32 {
	s := int32(max(min(d/time.Second, math.MaxInt32), math.MinInt32))
	return &s
}

func duration(s *int32) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(*s) * time.Second
}
