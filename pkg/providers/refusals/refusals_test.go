package refusals_test

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
)

func TestRefusalsHoldUntilTheNodeClassChangesOrTheirTimeRunsOut(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	m := refusals.NewMarks(clk)
	m.Refuse("tl", refusals.Refusal{ConditionType: "ImagesReady", Reason: "ImageRefused", Message: "no", Generation: 3})
	select {
	case <-m.Events():
	default:
		t.Fatal("no event for a refusal")
	}
	if got := m.Of("tl", 3); len(got) != 1 || got[0].Reason != "ImageRefused" {
		t.Fatalf("refusals %+v", got)
	}
	if got := m.Of("other", 3); len(got) != 0 {
		t.Errorf("another NodeClass has refusals %+v", got)
	}
	// The user edited the NodeClass: the refusal was about the old spec.
	if got := m.Of("tl", 4); len(got) != 0 {
		t.Errorf("refusal outlived an edit: %+v", got)
	}
	if got := m.Of("tl", 3); len(got) != 0 {
		t.Errorf("a forgotten refusal came back: %+v", got)
	}
	m.Refuse("tl", refusals.Refusal{ConditionType: "ImagesReady", Reason: "ImageRefused", Generation: 4})
	clk.Step(refusals.DefaultTTL)
	if got := m.Of("tl", 4); len(got) != 0 {
		t.Errorf("refusal outlived its time: %+v", got)
	}
}
