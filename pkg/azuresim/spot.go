package azuresim

import (
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// currentSpotPriceLocked is the spot price Compute compares a max price
// with: the listed price (the Retail Prices API's) times spot.priceFactor,
// which models a market that moved since the price was listed.
func (s *Server) currentSpotPriceLocked(sku *catalog.SKU, location string, windows bool) float64 {
	listed, _ := s.cat.Price(sku, location, windows, true)
	if f := s.cfg.Spot.PriceFactor; f > 0 {
		return listed * f
	}
	return listed
}

func isWindowsVM(p *armcompute.VirtualMachineProperties) bool {
	if p.OSProfile != nil && p.OSProfile.WindowsConfiguration != nil {
		return true
	}
	sp := p.StorageProfile
	return sp != nil && sp.OSDisk != nil && sp.OSDisk.OSType != nil && *sp.OSDisk.OSType == armcompute.OperatingSystemTypesWindows
}

// FormatUSD writes a price as Compute's spot messages do: without trailing
// zeros.
func FormatUSD(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64)
}
