package azuresim_test

import (
	"net/http"
	"testing"
)

func TestUltraSSDNeedsAZoneWhereTheSizeHasIt(t *testing.T) {
	e := newEnv(t, noRetries())
	subnet := e.network("eastus", "10.1.0.0/24")
	// Standard_D2s_v5 attaches Ultra Disks in eastus zones 2 and 3.
	e.mustCreateVM(vmSpec{name: "ultra", size: "Standard_D2s_v5", location: "eastus", zone: "2", ultraSSD: true}, subnet)

	_, putErr, _ := e.createVM(vmSpec{name: "regional", size: "Standard_D2s_v5", location: "eastus", ultraSSD: true}, subnet)
	if putErr == nil {
		t.Fatal("regional VM with Ultra Disks accepted")
	}
	if re := respErr(t, putErr); re.StatusCode != http.StatusBadRequest || re.ErrorCode != "InvalidParameter" ||
		errorMessage(t, re) != "UltraSSD can be used only with Virtual Machine in an Availability Zone." {
		t.Errorf("regional: %d %s %q", re.StatusCode, re.ErrorCode, errorMessage(t, re))
	}

	_, putErr, pollErr := e.createVM(vmSpec{name: "zone1", size: "Standard_D2s_v5", location: "eastus", zone: "1", ultraSSD: true}, subnet)
	if putErr != nil {
		t.Fatalf("PUT refused: %v", putErr)
	}
	if pollErr == nil || respErr(t, pollErr).ErrorCode != "ZonalAllocationFailed" {
		t.Errorf("Ultra Disks in a zone without them: %v, want ZonalAllocationFailed", pollErr)
	}
	// Sizes without premium storage have no Ultra Disks anywhere.
	_, putErr, pollErr = e.createVM(vmSpec{name: "standard", size: "Standard_D2_v3", location: "eastus", zone: "2", ultraSSD: true}, subnet)
	if putErr != nil {
		t.Fatalf("PUT refused: %v", putErr)
	}
	if pollErr == nil || respErr(t, pollErr).ErrorCode != "ZonalAllocationFailed" {
		t.Errorf("Ultra Disks on a size without them: %v, want ZonalAllocationFailed", pollErr)
	}
}
