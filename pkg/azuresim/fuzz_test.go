package azuresim_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// FuzzVMPut throws arbitrary bodies at the VM PUT handler (in memory, no
// TLS): every answer must be a 2xx VM or a 4xx ARM error, never a 5xx or a
// panic, and the server must stay consistent.
func FuzzVMPut(f *testing.F) {
	cfg := fastConfig()
	srv, err := azuresim.NewServer(azuresim.Options{Config: &cfg, Seed: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	do := func(t testing.TB, method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer fuzz")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	base := "/subscriptions/s/resourceGroups/rg/providers/"
	for _, step := range [][2]string{
		{base + "Microsoft.Network/virtualNetworks/v?api-version=2025-01-01", `{"location":"eastus","properties":{"subnets":[{"name":"n","properties":{"addressPrefix":"10.0.0.0/16"}}]}}`},
		{base + "Microsoft.Network/networkInterfaces/nic?api-version=2025-01-01", `{"location":"eastus","properties":{"ipConfigurations":[{"name":"c","properties":{"subnet":{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/n"}}}]}}`},
	} {
		if code, body := do(f, "PUT", step[0], step[1]); code >= 300 {
			f.Fatalf("setup %s: %d %s", step[0], code, body)
		}
	}
	nic := `{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic"}`
	f.Add(`{"location":"eastus","zones":["1"],"properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"},"networkProfile":{"networkInterfaces":[` + nic + `]}}}`)
	f.Add(`{"location":"eastus","properties":{"priority":"Spot","evictionPolicy":"Delete","billingProfile":{"maxPrice":-1},"hardwareProfile":{"vmSize":"Standard_D2s_v5"},"networkProfile":{"networkInterfaces":[` + nic + `]}}}`)
	f.Add(`{"location":"eastus","properties":{"hardwareProfile":{"vmSize":"Standard_DS2_v2"},"storageProfile":{"osDisk":{"diskSizeGB":100,"diffDiskSettings":{"option":"Local","placement":"CacheDisk"}}},"networkProfile":{"networkInterfaces":[` + nic + `]}}}`)
	f.Add(`{"location":"westcentralus","zones":[null],"properties":{"osProfile":{"customData":"e30="}}}`)
	f.Add(`{"location":"eastus","properties":{"networkProfile":{"networkInterfaces":[null,{}]}}}`)
	f.Add(`[]`)
	f.Add(`{"properties":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		code, resp := do(t, "PUT", base+"Microsoft.Compute/virtualMachines/vm?api-version=2025-04-01", body)
		if code >= 500 {
			t.Fatalf("status %d for %q: %s", code, body, resp)
		}
		var parsed map[string]any
		if err := json.Unmarshal([]byte(resp), &parsed); err != nil {
			t.Fatalf("non-JSON response %q", resp)
		}
		if code >= 400 {
			if e, ok := parsed["error"].(map[string]any); !ok || e["code"] == "" {
				t.Fatalf("error without ARM shape: %s", resp)
			}
		} else if code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("unexpected status %d", code)
		}
		// Keep the state small and the next input independent.
		do(t, "DELETE", base+"Microsoft.Compute/virtualMachines/vm?api-version=2025-04-01", "")
	})
	if err := srv.Close(); err != nil {
		f.Fatal(err)
	}
}
