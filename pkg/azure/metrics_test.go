package azure_test

import (
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
)

func TestOperation(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"PUT", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1", "PUT Microsoft.Compute/virtualMachines"},
		{"GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines", "GET Microsoft.Compute/virtualMachines"},
		{"GET", "/subscriptions/s/providers/Microsoft.Compute/locations/eastus/operations/abc", "GET Microsoft.Compute/locations/operations"},
		{"GET", "/subscriptions/s/providers/Microsoft.Compute/skus", "GET Microsoft.Compute/skus"},
		{"GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/sn", "GET Microsoft.Network/virtualNetworks/subnets"},
		{"GET", "/api/retail/prices", "GET retail/prices"},
	} {
		if got := azure.Operation(tc.method, tc.path); got != tc.want {
			t.Errorf("Operation(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
