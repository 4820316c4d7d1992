package options

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	cliflag "k8s.io/component-base/cli/flag"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/utils/env"

	"golang.org/x/crypto/ssh"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// NodeSettings are cluster-wide settings of every node the controller
// creates, NAP's options of the same names: tags on every resource, the
// Linux administrator and its SSH key, the disk encryption set of OS disks,
// the VM memory overhead the scheduler assumes, and the node conditions
// that make core repair a node.
type NodeSettings struct {
	// AdditionalTags go on every VM, NIC and OS disk, under the
	// AKSNodeClass's tags (a class's tag of the same key wins) and the
	// ownership tags (which always win).
	AdditionalTags map[string]string
	// LinuxAdminUsername is the administrator account of Linux VMs.
	LinuxAdminUsername string
	// SSHPublicKey is that account's SSH key (an authorized_keys line);
	// empty gives VMs a generated key whose private half nobody has.
	SSHPublicKey string
	// DiskEncryptionSetID encrypts managed OS disks with a customer-managed
	// key: a Microsoft.Compute/diskEncryptionSets resource ID.
	DiskEncryptionSetID string
	// VMMemoryOverheadPercent is the share of a size's memory the
	// hypervisor keeps, as a fraction (0.075 is 7.5%), as NAP and
	// Karpenter's AWS provider take it.
	VMMemoryOverheadPercent float64
	// RepairPolicies are the node conditions, and how long each is
	// tolerated, after which core replaces a node (NodeRepair gate on).
	RepairPolicies []cloudprovider.RepairPolicy
}

// DefaultRepairPolicies are NAP's (Azure/karpenter-provider-azure
// pkg/cloudprovider RepairPolicies): a node not Ready for 10 minutes; AKS's
// kubernetes.azure.com/NodeHealthy condition False, at once; a spot VM's
// eviction scheduled, at once (the interruption controller acts on the
// notice too; repair is the backstop when it cannot).
var DefaultRepairPolicies = []cloudprovider.RepairPolicy{
	{ConditionType: corev1.NodeReady, ConditionStatus: corev1.ConditionFalse, TolerationDuration: 10 * time.Minute},
	{ConditionType: corev1.NodeReady, ConditionStatus: corev1.ConditionUnknown, TolerationDuration: 10 * time.Minute},
	{ConditionType: ConditionNodeHealthy, ConditionStatus: corev1.ConditionFalse, TolerationDuration: 0},
	{ConditionType: "PreemptionScheduled", ConditionStatus: corev1.ConditionTrue, TolerationDuration: 0},
}

// ConditionNodeHealthy is the node condition AKS's node problem detection
// sets False on a node it finds broken.
const ConditionNodeHealthy corev1.NodeConditionType = "kubernetes.azure.com/NodeHealthy"

// DefaultNodeSettings are the node settings when no flag or variable sets them.
func DefaultNodeSettings() NodeSettings {
	return NodeSettings{
		AdditionalTags:          map[string]string{},
		LinuxAdminUsername:      DefaultLinuxAdminUsername,
		VMMemoryOverheadPercent: bootstrap.DefaultVMMemoryOverheadPercent,
		RepairPolicies:          slices.Clone(DefaultRepairPolicies),
	}
}

// DefaultLinuxAdminUsername is AKS's and NAP's administrator of Linux nodes.
const DefaultLinuxAdminUsername = "azureuser"

// FormatRepairPolicies is the --repair-policies form of policies.
func FormatRepairPolicies(policies []cloudprovider.RepairPolicy) string {
	parts := make([]string, len(policies))
	for i, p := range policies {
		parts[i] = fmt.Sprintf("%s=%s:%s", p.ConditionType, p.ConditionStatus, p.TolerationDuration)
	}
	return strings.Join(parts, ",")
}

// ParseRepairPolicies reads Type=Status:Duration,… (e.g.
// Ready=False:10m,kubernetes.azure.com/NodeHealthy=False:0s).
func ParseRepairPolicies(v string) ([]cloudprovider.RepairPolicy, error) {
	var out []cloudprovider.RepairPolicy
	var errs []error
	for _, item := range splitList(v) {
		cond, rest, ok := strings.Cut(item, "=")
		status, dur, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || cond == "" {
			errs = append(errs, fmt.Errorf("%q is not ConditionType=Status:Duration", item))
			continue
		}
		s := corev1.ConditionStatus(status)
		if !slices.Contains([]corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}, s) {
			errs = append(errs, fmt.Errorf("%q: status %q must be True, False or Unknown", item, status))
			continue
		}
		d, err := time.ParseDuration(dur)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%q: toleration %q must be a duration of 0s or more", item, dur))
			continue
		}
		out = append(out, cloudprovider.RepairPolicy{ConditionType: corev1.NodeConditionType(cond), ConditionStatus: s, TolerationDuration: d})
	}
	return out, errors.Join(errs...)
}

// addNodeFlags registers the node settings' flags.
func (o *Options) addNodeFlags(fs *coreoptions.FlagSet) {
	o.AdditionalTags = map[string]string{}
	tags := cliflag.NewMapStringString(&o.AdditionalTags)
	if err := tags.Set(env.WithDefaultString("ADDITIONAL_TAGS", "")); err != nil {
		o.flagErrs = append(o.flagErrs, fmt.Errorf("ADDITIONAL_TAGS: %w", err))
	}
	fs.Var(tags, "additional-tags", "Tags on every VM, NIC and OS disk, key1=value1,key2=value2; an AKSNodeClass's tag of the same key wins. Changing them retags running nodes in place at the next tag reconcile. (ADDITIONAL_TAGS)")
	fs.StringVar(&o.LinuxAdminUsername, "linux-admin-username", env.WithDefaultString("LINUX_ADMIN_USERNAME", DefaultLinuxAdminUsername), "Administrator account of Linux VMs. (LINUX_ADMIN_USERNAME)")
	fs.StringVar(&o.SSHPublicKey, "ssh-public-key", env.WithDefaultString("SSH_PUBLIC_KEY", ""), "SSH public key (authorized_keys line) of the Linux administrator; empty gives VMs a key whose private half nobody has. (SSH_PUBLIC_KEY)")
	fs.StringVar(&o.DiskEncryptionSetID, "node-osdisk-diskencryptionset-id", env.WithDefaultString("NODE_OSDISK_DISKENCRYPTIONSET_ID", ""), "Disk encryption set (resource ID) of the nodes' managed OS disks: customer-managed keys. (NODE_OSDISK_DISKENCRYPTIONSET_ID)")
	fs.Float64Var(&o.VMMemoryOverheadPercent, "vm-memory-overhead-percent", floatEnv("VM_MEMORY_OVERHEAD_PERCENT", bootstrap.DefaultVMMemoryOverheadPercent), "Share of a VM size's memory the hypervisor keeps, as a fraction (0.075 = 7.5%), subtracted from every instance type's memory capacity. (VM_MEMORY_OVERHEAD_PERCENT)")
	o.RepairPolicies = slices.Clone(DefaultRepairPolicies)
	if v := env.WithDefaultString("REPAIR_POLICIES", ""); v != "" {
		o.setRepairPolicies(v)
	}
	fs.Func("repair-policies", "Node conditions after which core replaces a node (NodeRepair feature gate), ConditionType=Status:Toleration,… Default NAP's: "+FormatRepairPolicies(DefaultRepairPolicies)+". (REPAIR_POLICIES)", func(v string) error {
		o.setRepairPolicies(v)
		return nil
	})
}

func (o *Options) setRepairPolicies(v string) {
	o.repairPoliciesErr = nil
	policies, err := ParseRepairPolicies(v)
	if err != nil {
		o.repairPoliciesErr = err
		return
	}
	o.RepairPolicies = policies
}

// Azure's rules for the settings, each from Azure's documentation:
var (
	// Tag names may not contain < > % & \ ? / ; names are at most 512
	// characters, values at most 256 (learn.microsoft.com/azure/
	// azure-resource-manager/management/tag-resources#limitations).
	tagKeyForbidden = regexp.MustCompile(`[<>%&\\?/]`)
	// Linux admin user names: 1–64 characters, letters, digits, '-', '_'
	// and '.', not ending in '.' or '-', and none of the reserved names
	// (osProfile.adminUsername in the Compute REST API specification).
	adminUsernamePattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}$`)
	reservedAdminNames   = []string{"administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a",
		"actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root", "server", "sql", "support",
		"support_388945a0", "sys", "test2", "test3", "user4", "user5"}
	// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/diskEncryptionSets/{name}
	diskEncryptionSetIDPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/diskEncryptionSets/[^/]+$`)
)

// maxAdditionalTags leaves room, within Azure's 50 tags per resource, for
// the controller's 5 ownership tags.
const maxAdditionalTags = 45

// validateNodeSettings reports every problem with the node settings.
func (o *Options) validateNodeSettings() []error {
	errs := slices.Clone(o.flagErrs)
	if len(o.AdditionalTags) > maxAdditionalTags {
		errs = append(errs, fmt.Errorf("--additional-tags (ADDITIONAL_TAGS) has %d tags; Azure allows 50 per resource and the controller sets 5, so at most %d", len(o.AdditionalTags), maxAdditionalTags))
	}
	for _, k := range sortedKeys(o.AdditionalTags) {
		v := o.AdditionalTags[k]
		switch {
		case k == "":
			errs = append(errs, errors.New("--additional-tags (ADDITIONAL_TAGS) has an empty tag name"))
		case len(k) > 512:
			errs = append(errs, fmt.Errorf("--additional-tags (ADDITIONAL_TAGS) tag name %.20q… is longer than Azure's 512 characters", k))
		case tagKeyForbidden.MatchString(k):
			errs = append(errs, fmt.Errorf("--additional-tags (ADDITIONAL_TAGS) tag name %q contains one of < > %% & \\ ? /, which Azure refuses", k))
		case strings.HasPrefix(k, "karpenter.azure.com_") || strings.HasPrefix(k, "karpenter.sh_"):
			errs = append(errs, fmt.Errorf("--additional-tags (ADDITIONAL_TAGS) tag name %q is an ownership tag the controller sets", k))
		}
		if len(v) > 256 {
			errs = append(errs, fmt.Errorf("--additional-tags (ADDITIONAL_TAGS) value of %q is longer than Azure's 256 characters", k))
		}
	}
	if !adminUsernamePattern.MatchString(o.LinuxAdminUsername) || strings.HasSuffix(o.LinuxAdminUsername, ".") || strings.HasSuffix(o.LinuxAdminUsername, "-") {
		errs = append(errs, fmt.Errorf("--linux-admin-username (LINUX_ADMIN_USERNAME) %q must be 1–64 letters, digits, '_', '-' or '.', start with a letter, digit or '_', and not end in '.' or '-'", o.LinuxAdminUsername))
	} else if slices.Contains(reservedAdminNames, strings.ToLower(o.LinuxAdminUsername)) {
		errs = append(errs, fmt.Errorf("--linux-admin-username (LINUX_ADMIN_USERNAME) %q is a name Azure reserves", o.LinuxAdminUsername))
	}
	if o.SSHPublicKey != "" {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(o.SSHPublicKey)); err != nil {
			errs = append(errs, fmt.Errorf("--ssh-public-key (SSH_PUBLIC_KEY) is not an SSH public key in authorized_keys form (ssh-rsa AAAA… or ssh-ed25519 AAAA…): %w", err))
		}
	}
	if o.DiskEncryptionSetID != "" && !diskEncryptionSetIDPattern.MatchString(o.DiskEncryptionSetID) {
		errs = append(errs, fmt.Errorf("--node-osdisk-diskencryptionset-id (NODE_OSDISK_DISKENCRYPTIONSET_ID) %q is not a disk encryption set resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/diskEncryptionSets/…)", o.DiskEncryptionSetID))
	}
	if o.VMMemoryOverheadPercent < 0 || o.VMMemoryOverheadPercent >= 1 {
		errs = append(errs, fmt.Errorf("--vm-memory-overhead-percent (VM_MEMORY_OVERHEAD_PERCENT) %g must be a fraction from 0 up to 1 (0.075 is 7.5%%)", o.VMMemoryOverheadPercent))
	}
	if o.repairPoliciesErr != nil {
		errs = append(errs, fmt.Errorf("--repair-policies (REPAIR_POLICIES): %w", o.repairPoliciesErr))
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
