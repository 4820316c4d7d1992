// Package azure builds the Azure SDK clients the providers use: cloud
// endpoints, credentials, TLS trust, retries and request metrics. The same
// clients reach Azure in production and azuresim in development; only the
// endpoint, the CA bundle and the credential differ.
package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// CredentialMode selects how the controller authenticates to ARM.
type CredentialMode string

const (
	// CredentialWorkloadIdentity uses a federated service-account token
	// (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE), the
	// recommended mode in AKS.
	CredentialWorkloadIdentity CredentialMode = "workload-identity"
	// CredentialManagedIdentity uses the VM's or a user-assigned managed identity.
	CredentialManagedIdentity CredentialMode = "managed-identity"
	// CredentialStaticToken sends a bearer token read from a file. It exists
	// for simulators and tests; Azure rejects it once it expires.
	CredentialStaticToken CredentialMode = "static-token"
)

// CredentialModes lists the supported modes.
var CredentialModes = []CredentialMode{CredentialWorkloadIdentity, CredentialManagedIdentity, CredentialStaticToken}

// Clouds maps the accepted cloud names to their SDK configuration.
var Clouds = map[string]cloud.Configuration{
	"AzurePublicCloud":       cloud.AzurePublic,
	"AzureChinaCloud":        cloud.AzureChina,
	"AzureUSGovernmentCloud": cloud.AzureGovernment,
}

// Config says where ARM is and who the controller is.
type Config struct {
	// Cloud is one of Clouds' names; ignored when ARMEndpoint is set.
	Cloud string
	// ARMEndpoint overrides the cloud's resource manager endpoint
	// (for azuresim, or a sovereign or private cloud).
	ARMEndpoint string
	// CABundle is a PEM file of extra CAs to trust, added to the system pool.
	CABundle string
	// Credential is the authentication mode.
	Credential CredentialMode
	// ManagedIdentityClientID selects a user-assigned managed identity.
	ManagedIdentityClientID string
	// StaticTokenFile holds the bearer token of CredentialStaticToken; it is
	// read whenever the SDK asks for a token, so it can be rotated in place.
	// A token never travels on a command line or in the environment.
	StaticTokenFile string
	// UserAgent is appended to the SDK's telemetry user agent.
	UserAgent string
	// Retry overrides the retry policy (tests shorten its delays); the zero
	// value means DefaultRetry.
	Retry policy.RetryOptions
	// RateLimits override DefaultRateLimits when non-zero.
	RateLimits RateLimits
	// RateLimitScale multiplies the rate limits' refill rates; 0 means 1.
	// Only for a simulator whose clock runs faster than Azure's (azuresim
	// at --time-scale 0.001 refills its buckets 1,000 times faster).
	RateLimitScale float64
}

// DefaultRetry is the retry policy of every client. azcore's retry policy
// honours Retry-After on 429 and 503 and backs off exponentially on 408,
// 500, 502, 503 and 504; it never retries earlier than Retry-After says.
var DefaultRetry = policy.RetryOptions{
	MaxRetries:    4,
	RetryDelay:    time.Second,
	MaxRetryDelay: 60 * time.Second,
	TryTimeout:    2 * time.Minute,
}

// maxRetryDelay is the longest Retry-After azcore's retry policy waits for
// with these options (its default is 60 s; a negative value means no cap).
func maxRetryDelay(o policy.RetryOptions) time.Duration {
	switch {
	case o.MaxRetryDelay == 0:
		return 60 * time.Second
	case o.MaxRetryDelay < 0:
		return time.Duration(math.MaxInt64)
	}
	return o.MaxRetryDelay
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ARMEndpoint == "" {
		if _, ok := Clouds[c.Cloud]; !ok {
			errs = append(errs, fmt.Errorf("unknown cloud %q: use one of AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud, or set an ARM endpoint", c.Cloud))
		}
	} else if !strings.HasPrefix(c.ARMEndpoint, "https://") {
		// The SDK's bearer-token policy refuses to send tokens over plain HTTP.
		errs = append(errs, fmt.Errorf("ARM endpoint %q must be an https:// URL", c.ARMEndpoint))
	}
	switch c.Credential {
	case CredentialWorkloadIdentity, CredentialManagedIdentity:
	case CredentialStaticToken:
		if c.StaticTokenFile == "" {
			errs = append(errs, errors.New("credential mode static-token needs a token file"))
		} else if _, err := readStaticToken(c.StaticTokenFile); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("unknown credential mode %q: use one of %v", c.Credential, CredentialModes))
	}
	if c.CABundle != "" {
		if _, err := os.Stat(c.CABundle); err != nil {
			errs = append(errs, fmt.Errorf("CA bundle: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CloudConfiguration is the SDK cloud configuration, with the endpoint
// override applied.
func (c Config) CloudConfiguration() cloud.Configuration {
	if c.ARMEndpoint == "" {
		return Clouds[c.Cloud]
	}
	endpoint := strings.TrimSuffix(c.ARMEndpoint, "/")
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: endpoint, Audience: endpoint},
		},
	}
}

// HTTPClient is the transport every client shares: the system CAs plus the
// configured bundle, and connection reuse sized for a controller's fan-out.
func (c Config) HTTPClient() (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if c.CABundle != "" {
		pem, err := os.ReadFile(c.CABundle)
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", c.CABundle)
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: transport}, nil
}

// Credential builds the token credential for the configured mode.
func (c Config) TokenCredential(httpClient *http.Client) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{Cloud: c.CloudConfiguration(), Transport: httpClient}
	switch c.Credential {
	case CredentialWorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts})
	case CredentialManagedIdentity:
		miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if c.ManagedIdentityClientID != "" {
			miOpts.ID = azidentity.ClientID(c.ManagedIdentityClientID)
		}
		return azidentity.NewManagedIdentityCredential(miOpts)
	case CredentialStaticToken:
		return staticTokenFile(c.StaticTokenFile), nil
	}
	return nil, fmt.Errorf("unknown credential mode %q", c.Credential)
}

// staticToken is a credential with a fixed token. azidentity has no such
// credential on purpose (it cannot refresh); it serves simulators only.
type staticToken string

func (t staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// staticTokenFile is a static token read from a file at each request for a
// token (the SDK caches it until shortly before ExpiresOn).
type staticTokenFile string

func (f staticTokenFile) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := readStaticToken(string(f))
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return staticToken(tok).GetToken(ctx, opts)
}

func readStaticToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("static token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("static token file %s is empty", path)
	}
	return tok, nil
}

// ClientOptions are the ARM client options shared by every client: cloud,
// transport, retries for throttling and transient failures, and request
// metrics.
//
// Call it once per set of clients: the rate limiter it installs is shared by
// every client built with the returned options.
func (c Config) ClientOptions(httpClient *http.Client) *arm.ClientOptions {
	limits := c.RateLimits
	if limits == (RateLimits{}) {
		limits = DefaultRateLimits
	}
	limits = limits.Scaled(c.RateLimitScale)
	retry := c.Retry
	if retry.MaxRetries == 0 && retry.RetryDelay == 0 && retry.TryTimeout == 0 {
		retry = DefaultRetry
	}
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:            c.CloudConfiguration(),
			Transport:        httpClient,
			Retry:            retry,
			Telemetry:        policy.TelemetryOptions{ApplicationID: c.UserAgent},
			PerRetryPolicies: []policy.Policy{NewRetryAfterGate(maxRetryDelay(retry)), newRateLimiter(limits), requestMetrics{}},
		},
		// Resource provider registration needs subscription-level rights the
		// controller does not have; the providers it uses are registered with
		// the cluster.
		DisableRPRegistration: true,
	}
}
