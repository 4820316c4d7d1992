// Package plan is the offline solver behind `azkarpenter plan` and the
// benchmark harness: it runs karpenter core's provisioning scheduler on a
// workload against the instance types the controller would build for a
// region, picks the offering the provider would launch for each NodeClaim,
// and prices the result against a lower bound (the LP relaxation of covering
// the workload's requests) and the fixed-pool baseline a cluster-autoscaler
// user would get.
package plan
