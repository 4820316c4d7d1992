package azure

import (
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Clients are the ARM clients of one subscription, sharing a transport,
// credential and pipeline policies.
type Clients struct {
	SubscriptionID string
	HTTPClient     *http.Client
	Options        *arm.ClientOptions
	Credential     azcore.TokenCredential

	Compute *armcompute.ClientFactory
	Network *armnetwork.ClientFactory
	// RetryAfter holds back requests Azure asked to wait for (Retry-After);
	// callers ask it whether an operation is held back before starting work
	// that needs it.
	RetryAfter *RetryAfterGate
}

// NewClients validates the configuration and builds the clients.
func NewClients(cfg Config, subscriptionID string) (*Clients, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if subscriptionID == "" {
		return nil, fmt.Errorf("subscription ID is required")
	}
	httpClient, err := cfg.HTTPClient()
	if err != nil {
		return nil, err
	}
	cred, err := cfg.TokenCredential(httpClient)
	if err != nil {
		return nil, fmt.Errorf("building %s credential: %w", cfg.Credential, err)
	}
	opts := cfg.ClientOptions(httpClient)
	compute, err := armcompute.NewClientFactory(subscriptionID, cred, opts)
	if err != nil {
		return nil, err
	}
	network, err := armnetwork.NewClientFactory(subscriptionID, cred, opts)
	if err != nil {
		return nil, err
	}
	return &Clients{
		SubscriptionID: subscriptionID,
		HTTPClient:     httpClient,
		Options:        opts,
		Credential:     cred,
		Compute:        compute,
		Network:        network,
		RetryAfter:     RetryAfterOf(opts),
	}, nil
}
