// Package refusals remembers what Azure refused because of an AKSNodeClass's
// own settings (an image that cannot boot the VM as asked, a dedicated host
// group that cannot take it, a spot price cap below the price), so that the
// refusal becomes a condition on the NodeClass rather than a retry: core
// launches nothing for a NodeClass that is not Ready, and retrying a request
// Azure refuses for its content only spends the write budget.
//
// A refusal holds until the NodeClass changes (its generation moves on) or
// its time runs out, whichever is first: an edit is the fix, and a refusal
// that outlives its time is found again by the next launch.
package refusals

import (
	"sort"
	"sync"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// DefaultTTL is how long a refusal counts without the NodeClass changing:
// long enough that a NodeClass Azure refuses costs one VM PUT per period,
// short enough that what Azure fixed on its side (an image published,
// capacity added to a host group) is found within the hour.
const DefaultTTL = 30 * time.Minute

// Refusal is what Azure refused, as a NodeClass condition says it.
type Refusal struct {
	// ConditionType is the NodeClass condition the refusal sets False
	// (v1beta1.ConditionTypeImagesReady, ...ValidationSucceeded).
	ConditionType string
	// Reason and Message are the condition's.
	Reason, Message string
	// Generation is the NodeClass generation the refusal is about.
	Generation int64
	until      time.Time
}

// Marks holds the refusals of every NodeClass.
type Marks struct {
	mu     sync.Mutex
	clock  clock.Clock
	ttl    time.Duration
	marks  map[string]map[string]Refusal // NodeClass name → condition type → refusal
	events chan event.GenericEvent
}

// NewMarks returns empty marks.
func NewMarks(clk clock.Clock) *Marks {
	return &Marks{clock: clk, ttl: DefaultTTL, marks: map[string]map[string]Refusal{}, events: make(chan event.GenericEvent, 16)}
}

// Refuse records a refusal for the NodeClass and asks for its status to be
// reconciled.
func (m *Marks) Refuse(nodeClass string, r Refusal) {
	m.mu.Lock()
	r.until = m.clock.Now().Add(m.ttl)
	if m.marks[nodeClass] == nil {
		m.marks[nodeClass] = map[string]Refusal{}
	}
	m.marks[nodeClass][r.ConditionType] = r
	m.mu.Unlock()
	select {
	case m.events <- event.GenericEvent{}:
	default: // a notification is already pending; it covers this one
	}
}

// Of returns the refusals that still hold for the NodeClass at generation,
// ordered by condition type, and forgets the others.
func (m *Marks) Of(nodeClass string, generation int64) []Refusal {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	var out []Refusal
	for t, r := range m.marks[nodeClass] {
		if r.Generation != generation || !now.Before(r.until) {
			delete(m.marks[nodeClass], t)
			continue
		}
		out = append(out, r)
	}
	if len(m.marks[nodeClass]) == 0 {
		delete(m.marks, nodeClass)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConditionType < out[j].ConditionType })
	return out
}

// Events delivers one event per burst of refusals.
func (m *Marks) Events() <-chan event.GenericEvent { return m.events }
