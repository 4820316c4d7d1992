package interruption

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func nodeWith(conds ...corev1.NodeCondition) *corev1.Node {
	return &corev1.Node{Status: corev1.NodeStatus{Conditions: conds}}
}

func TestNoticeOf(t *testing.T) {
	deadline := time.Date(2026, 8, 1, 5, 41, 2, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		conds    []corev1.NodeCondition
		want     bool
		signal   Signal
		deadline time.Time
	}{
		{name: "recent: PreemptionScheduled with the deadline in the message", want: true, signal: SignalPreemptionScheduled, deadline: deadline,
			conds: []corev1.NodeCondition{{Type: ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Reason: ReasonSpotEvictionIncoming,
				Message: "Preempt Scheduled: Sat, 01 Aug 2026 05:41:02 GMT. For more information, see https://aka.ms/x. EventId: 0F4D1E2A-7C55-4D3E-9A44-7E1B0C2D3E4F"}}},
		{name: "recent: the event has started (no deadline)", want: true, signal: SignalPreemptionScheduled,
			conds: []corev1.NodeCondition{{Type: ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Reason: ReasonSpotEvictionIncoming, Message: "Preempt Started."}}},
		{name: "recent: the rebalance advisory also replaces the node", want: true, signal: SignalPreemptionScheduled,
			conds: []corev1.NodeCondition{{Type: ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Reason: ReasonSpotEvictionIncoming, Message: "SpotRebalanceRecommendation Advisory: Sat, 01 Aug 2026 05:41:02 GMT."}}},
		{name: "recent: a renamed reason still counts", want: true, signal: SignalPreemptionScheduled,
			conds: []corev1.NodeCondition{{Type: ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Reason: "SomethingElse"}}},
		{name: "recent: False is no notice",
			conds: []corev1.NodeCondition{{Type: ConditionPreemptionScheduled, Status: corev1.ConditionFalse}}},
		{name: "older: VMEventScheduled for a Preempt event", want: true, signal: SignalVMEventScheduled, deadline: time.Date(2026, 3, 2, 19, 1, 45, 0, time.UTC),
			conds: []corev1.NodeCondition{{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Reason: "VMEventScheduled", Message: "Preempt Scheduled: Mon, 02 Mar 2026 19:01:45 GMT"}}},
		{name: "older: a one-digit day (RFC 1123 allows it)", want: true, signal: SignalVMEventScheduled, deadline: time.Date(2026, 3, 2, 19, 1, 45, 0, time.UTC),
			conds: []corev1.NodeCondition{{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Reason: "VMEventScheduled", Message: "Preempt Scheduled: Mon, 2 Mar 2026 19:01:45 GMT"}}},
		{name: "older: a Reboot is maintenance, not an eviction",
			conds: []corev1.NodeCondition{{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Reason: "VMEventScheduled", Message: "Reboot Scheduled: Mon, 02 Mar 2026 19:01:45 GMT"}}},
		{name: "older: Freeze, Redeploy and Terminate neither",
			conds: []corev1.NodeCondition{{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Reason: "VMEventScheduled", Message: "Freeze Scheduled: Mon, 02 Mar 2026 19:01:45 GMT"}}},
		{name: "older: the healthy state AKS nodes report",
			conds: []corev1.NodeCondition{{Type: ConditionVMEventScheduled, Status: corev1.ConditionFalse, Reason: "NoVMEventScheduled", Message: "VM has no scheduled event"}}},
		{name: "older: an unreadable date still evicts, without a deadline", want: true, signal: SignalVMEventScheduled,
			conds: []corev1.NodeCondition{{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Message: "Preempt Scheduled: soon"}}},
		{name: "both: the recent condition is read", want: true, signal: SignalPreemptionScheduled, deadline: deadline,
			conds: []corev1.NodeCondition{
				{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Message: "Preempt Scheduled: Mon, 02 Mar 2026 19:01:45 GMT"},
				{Type: ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Message: "Preempt Scheduled: Sat, 01 Aug 2026 05:41:02 GMT."}}},
		{name: "no conditions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := NoticeOf(nodeWith(tc.conds...))
			if ok != tc.want {
				t.Fatalf("notice = %v, want %v", ok, tc.want)
			}
			if !ok {
				return
			}
			if n.Signal != tc.signal || !n.Deadline.Equal(tc.deadline) {
				t.Errorf("got %s deadline %v, want %s %v", n.Signal, n.Deadline, tc.signal, tc.deadline)
			}
		})
	}
}
