// Package aksnodepool maps AKS node-pool operations, as `az aks nodepool`
// takes them, onto karpenter objects: an AKS node pool becomes an
// AKSNodeClass named after the pool and one or two NodePools.
//
//   - <pool>: a static NodePool (spec.replicas), the pool's fixed count, or
//     with the cluster autoscaler its minimum count (the floor);
//   - <pool>-autoscale: with the cluster autoscaler only, a dynamic NodePool
//     bounded by limits.nodes = max-count - min-count, which karpenter grows
//     for pending pods and consolidates when nodes are no longer needed.
//
// Both NodePools launch the same nodes (same template, same AKSNodeClass)
// and label them agentpool=<pool>, so workloads select the pool as on AKS.
// The package is pure: it builds and changes objects, checked against the
// region's VM size catalog; cmd/azkarpenter applies them.
package aksnodepool
