package azuresim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// AdminClient drives a running azuresim through its admin API (/admin): the
// e2e suites, the benchmark and the local cluster's fleet monitor read its
// state and change its fault model with it.
type AdminClient struct {
	url   string
	token string
	http  *http.Client
}

// NewAdminClient returns a client for the simulator at url (https://host:port)
// whose CA and admin token are the files azuresim wrote into certDir.
func NewAdminClient(url, certDir string) (*AdminClient, error) {
	caPEM, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("azuresim admin client: %w", err)
	}
	token, err := os.ReadFile(filepath.Join(certDir, "admin-token"))
	if err != nil {
		return nil, fmt.Errorf("azuresim admin client: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("azuresim admin client: no certificate in %s", filepath.Join(certDir, "ca.crt"))
	}
	return &AdminClient{
		url:   strings.TrimSuffix(url, "/"),
		token: strings.TrimSpace(string(token)),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}},
	}, nil
}

// AdminClient returns a client of the server's admin API, for tests that
// run the simulator in process.
func (s *Server) AdminClient() *AdminClient {
	return &AdminClient{url: s.url, token: s.admin, http: s.HTTPClient()}
}

// State returns the simulator's resources (GET /admin/state).
func (c *AdminClient) State(ctx context.Context) (State, error) {
	var st State
	return st, c.do(ctx, http.MethodGet, "/admin/state", nil, &st)
}

// Stats returns per-operation request statistics (GET /admin/stats).
func (c *AdminClient) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	return st, c.do(ctx, http.MethodGet, "/admin/stats", nil, &st)
}

// Config returns the fault model in force.
func (c *AdminClient) Config(ctx context.Context) (Config, error) {
	var cfg Config
	return cfg, c.do(ctx, http.MethodGet, "/admin/config", nil, &cfg)
}

// SetConfig replaces the fault model.
func (c *AdminClient) SetConfig(ctx context.Context, cfg Config) error {
	return c.do(ctx, http.MethodPut, "/admin/config", cfg, nil)
}

// UpdateConfig reads the fault model, lets edit change it and writes it back.
func (c *AdminClient) UpdateConfig(ctx context.Context, edit func(*Config)) error {
	cfg, err := c.Config(ctx)
	if err != nil {
		return err
	}
	edit(&cfg)
	return c.SetConfig(ctx, cfg)
}

// AddError adds an error-injection rule.
func (c *AdminClient) AddError(ctx context.Context, rule ErrorRule) error {
	return c.do(ctx, http.MethodPost, "/admin/errors", rule, nil)
}

// AddCapacity adds a capacity rule.
func (c *AdminClient) AddCapacity(ctx context.Context, rule CapacityRule) error {
	return c.do(ctx, http.MethodPost, "/admin/capacity", rule, nil)
}

// SetQuota replaces the quota configuration.
func (c *AdminClient) SetQuota(ctx context.Context, q QuotaConfig) error {
	return c.do(ctx, http.MethodPut, "/admin/quota", q, nil)
}

// Evict schedules a spot eviction of the VM with the resource ID; notice 0
// uses the configured notice period.
func (c *AdminClient) Evict(ctx context.Context, vmID string, notice time.Duration) error {
	return c.EvictWithSignal(ctx, vmID, notice, "")
}

// EvictWithSignal is Evict with the node condition the notice shows as:
// NoticeSignalPreemptionScheduled, NoticeSignalVMEventScheduled or "" (the
// configured one).
func (c *AdminClient) EvictWithSignal(ctx context.Context, vmID string, notice time.Duration, signal string) error {
	body := map[string]any{"id": vmID}
	if notice > 0 {
		body["noticePeriod"] = notice.String()
	}
	if signal != "" {
		body["noticeSignal"] = signal
	}
	return c.do(ctx, http.MethodPost, "/admin/evict", body, nil)
}

// GalleryImages lists the community gallery image definitions and their
// versions (GET /admin/galleries).
func (c *AdminClient) GalleryImages(ctx context.Context) ([]GalleryImageState, error) {
	var out []GalleryImageState
	return out, c.do(ctx, http.MethodGet, "/admin/galleries", nil, &out)
}

// PublishImageVersion publishes a version of an existing image definition;
// nodes on older versions then drift once the controller sees it.
func (c *AdminClient) PublishImageVersion(ctx context.Context, gallery, image, version string, spec ImageVersionSpec) error {
	return c.do(ctx, http.MethodPut, galleryPath(gallery, image)+"/versions/"+url.PathEscape(version), spec, nil)
}

// DeleteImageVersion removes a version of an image definition.
func (c *AdminClient) DeleteImageVersion(ctx context.Context, gallery, image, version string) error {
	return c.do(ctx, http.MethodDelete, galleryPath(gallery, image)+"/versions/"+url.PathEscape(version), nil, nil)
}

// DeleteGalleryImage removes an image definition and all its versions.
func (c *AdminClient) DeleteGalleryImage(ctx context.Context, gallery, image string) error {
	return c.do(ctx, http.MethodDelete, galleryPath(gallery, image), nil, nil)
}

func galleryPath(gallery, image string) string {
	return "/admin/galleries/" + url.PathEscape(gallery) + "/images/" + url.PathEscape(image)
}

// Requests returns up to limit of the latest ARM requests, oldest first
// (GET /admin/requests).
func (c *AdminClient) Requests(ctx context.Context, limit int) ([]Request, error) {
	var out []Request
	return out, c.do(ctx, http.MethodGet, fmt.Sprintf("/admin/requests?limit=%d", limit), nil, &out)
}

// RetailPrices returns every row of the simulator's Retail Prices API that
// matches the OData filter, following NextPageLink.
func (c *AdminClient) RetailPrices(ctx context.Context, filter string) ([]PriceItem, error) {
	path := "/api/retail/prices?api-version=2023-01-01-preview&$filter=" + url.QueryEscape(filter)
	var out []PriceItem
	for path != "" {
		var page struct {
			Items        []PriceItem `json:"Items"`
			NextPageLink string      `json:"NextPageLink"`
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		path = strings.TrimPrefix(page.NextPageLink, c.url)
	}
	return out, nil
}

// OnDemandPrices returns a size's Linux and Windows on-demand prices in a
// region, USD per hour, as the simulator's Retail Prices API serves them:
// the Consumption rows that are neither Spot nor Low Priority, Windows
// being the product whose name ends in " Windows".
func (c *AdminClient) OnDemandPrices(ctx context.Context, region, size string) (linux, windows float64, err error) {
	rows, err := c.RetailPrices(ctx, fmt.Sprintf("armRegionName eq '%s' and armSkuName eq '%s' and priceType eq 'Consumption'", region, size))
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		if strings.HasSuffix(r.SkuName, " Spot") || strings.HasSuffix(r.SkuName, " Low Priority") {
			continue
		}
		if strings.HasSuffix(r.ProductName, " Windows") {
			windows = r.RetailPrice
		} else {
			linux = r.RetailPrice
		}
	}
	if linux == 0 || windows == 0 {
		return linux, windows, fmt.Errorf("%s: Linux $%v/h, Windows $%v/h in %d rows", size, linux, windows, len(rows))
	}
	return linux, windows, nil
}

// VMBootstrap returns a VM's identity and custom data, by VM name.
func (c *AdminClient) VMBootstrap(ctx context.Context, name string) (VMBootstrap, error) {
	var b VMBootstrap
	return b, c.do(ctx, http.MethodGet, "/admin/vms/"+url.PathEscape(name)+"/bootstrap", nil, &b)
}

// ResetStats zeroes the request statistics.
func (c *AdminClient) ResetStats(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/admin/reset?scope=stats", nil, nil)
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("azuresim %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("azuresim %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("azuresim %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("azuresim %s %s: decoding the response: %w", method, path, err)
		}
	}
	return nil
}
