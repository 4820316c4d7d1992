package interruption

import (
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The node conditions through which AKS's node-problem-detector surfaces an
// Azure Scheduled Events Preempt notice (a spot eviction). Two generations
// are in use on AKS nodes:
//
//   - Recent: PreemptionScheduled=True, reason SpotEvictionIncoming, with the
//     event in the message: "Preempt Scheduled: Sat, 01 Aug 2026 05:41:02
//     GMT. For more information, see <link>. EventId: <guid>" (AKS node
//     auto-provisioning reacts to this condition since
//     Azure/karpenter-provider-azure#1695; #1829 documents the message and
//     that the same condition also carries "Preempt Started." and the
//     advisory "SpotRebalanceRecommendation Advisory: <time>.").
//   - Older: VMEventScheduled=True, reason VMEventScheduled ("Node Problem
//     Detector (NPD) in AKS nodes", node conditions table), for every
//     scheduled event type (Freeze, Reboot, Redeploy, Preempt, Terminate;
//     Azure/karpenter-provider-azure#1594), the event in the message:
//     "Preempt Scheduled: Mon, 02 Mar 2026 19:01:45 GMT". Only Preempt is a
//     spot eviction; the others are maintenance this controller leaves to
//     AKS's node auto-drain.
const (
	ConditionPreemptionScheduled corev1.NodeConditionType = "PreemptionScheduled"
	ConditionVMEventScheduled    corev1.NodeConditionType = "VMEventScheduled"
	// ReasonSpotEvictionIncoming is the reason node-problem-detector gives
	// PreemptionScheduled; the controller keys off the type and status, so a
	// renamed reason cannot silently disable spot handling.
	ReasonSpotEvictionIncoming = "SpotEvictionIncoming"
)

// Signal names the condition a notice came through (the "signal" label of
// the metrics).
type Signal string

const (
	SignalPreemptionScheduled Signal = "PreemptionScheduled"
	SignalVMEventScheduled    Signal = "VMEventScheduled"
)

// Notice is a spot eviction notice read from a node's conditions.
type Notice struct {
	Signal Signal
	// Deadline is the event's NotBefore: when Azure may evict the VM. Zero
	// when the message carries none (the event has started, or the message
	// is one this controller does not know).
	Deadline time.Time
	// Message is the condition's message.
	Message string
}

// eventRE matches the leading "<EventType> <EventStatus>" of a scheduled
// event message and the NotBefore after a colon, if any.
var eventRE = regexp.MustCompile(`^\s*([A-Za-z]+)\s+([A-Za-z]+)(?:\s*:\s*(.*?))?\s*(?:\.\s|\.$|$)`)

// notBeforeLayouts are the forms of a Scheduled Events NotBefore: IMDS
// writes RFC 1123 ("Mon, 19 Sep 2016 18:29:47 GMT"), whose day may have one
// digit (RFC 1123 section 5.2.14 allows 1*2DIGIT).
var notBeforeLayouts = []string{time.RFC1123, "Mon, 2 Jan 2006 15:04:05 MST", time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700"}

func parseNotBefore(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range notBeforeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseEvent returns the event type of a scheduled event message (its
// status, the second word, matters to no caller) and its NotBefore (zero
// when absent or unreadable).
func parseEvent(message string) (eventType string, notBefore time.Time) {
	m := eventRE.FindStringSubmatch(message)
	if m == nil {
		return "", time.Time{}
	}
	if m[3] != "" {
		notBefore, _ = parseNotBefore(m[3])
	}
	return m[1], notBefore
}

// NoticeOf returns the spot eviction notice on a node, if it carries one:
// PreemptionScheduled=True (any message), or VMEventScheduled=True for a
// Preempt event. With both, PreemptionScheduled is read.
func NoticeOf(node *corev1.Node) (Notice, bool) {
	var legacy *corev1.NodeCondition
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case ConditionPreemptionScheduled:
			n := Notice{Signal: SignalPreemptionScheduled, Message: c.Message}
			if typ, nb := parseEvent(c.Message); strings.EqualFold(typ, "Preempt") {
				n.Deadline = nb
			}
			return n, true
		case ConditionVMEventScheduled:
			legacy = c
		}
	}
	if legacy == nil {
		return Notice{}, false
	}
	typ, nb := parseEvent(legacy.Message)
	if !strings.EqualFold(typ, "Preempt") {
		return Notice{}, false
	}
	return Notice{Signal: SignalVMEventScheduled, Deadline: nb, Message: legacy.Message}, true
}
