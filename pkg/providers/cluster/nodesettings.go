package cluster

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// MaxCustomCACerts is how many certificates AKS's custom CA trust takes
// (securityProfile.customCATrustCertificates: "maximum of 10").
const MaxCustomCACerts = 10

// httpProxy is the nodes' egress proxy from the options, nil when none.
func httpProxy(o Options) (*HTTPProxy, error) {
	if o.HTTPProxy == "" && o.HTTPSProxy == "" {
		if len(o.NoProxy) > 0 || o.HTTPProxyTrustedCAFile != "" {
			return nil, &InputError{Input: "HTTP proxy", Reason: "HTTPProxyInvalid",
				Message: "--node-no-proxy or --node-http-proxy-trusted-ca-file is set without --node-http-proxy or --node-https-proxy"}
		}
		return nil, nil
	}
	for _, v := range []struct{ flag, value string }{{"--node-http-proxy (NODE_HTTP_PROXY)", o.HTTPProxy}, {"--node-https-proxy (NODE_HTTPS_PROXY)", o.HTTPSProxy}} {
		if err := ValidateProxyURL(v.value); err != nil {
			return nil, &InputError{Input: "HTTP proxy", Reason: "HTTPProxyInvalid", Message: fmt.Sprintf("%s %q: %v", v.flag, v.value, err)}
		}
	}
	for _, e := range o.NoProxy {
		if err := ValidateNoProxyEntry(e); err != nil {
			return nil, &InputError{Input: "HTTP proxy", Reason: "HTTPProxyInvalid", Message: fmt.Sprintf("--node-no-proxy (NODE_NO_PROXY) entry %q: %v", e, err)}
		}
	}
	p := &HTTPProxy{HTTPProxy: o.HTTPProxy, HTTPSProxy: o.HTTPSProxy, NoProxy: o.NoProxy}
	if o.HTTPProxyTrustedCAFile != "" {
		ca, err := ReadPEMCertificates(o.HTTPProxyTrustedCAFile, 0)
		if err != nil {
			return nil, &InputError{Input: "HTTP proxy trusted CA", Reason: "HTTPProxyTrustedCAInvalid", Message: fmt.Sprintf("--node-http-proxy-trusted-ca-file (NODE_HTTP_PROXY_TRUSTED_CA_FILE): %v", err)}
		}
		p.TrustedCA = ca
	}
	return p, nil
}

// customCACerts are the certificates nodes add to their trust store, one PEM
// block each.
func customCACerts(file string) ([][]byte, error) {
	if file == "" {
		return nil, nil
	}
	data, err := ReadPEMCertificates(file, MaxCustomCACerts)
	if err != nil {
		return nil, &InputError{Input: "custom CA certificates", Reason: "CustomCACertsInvalid", Message: fmt.Sprintf("--node-custom-ca-certs-file (NODE_CUSTOM_CA_CERTS_FILE): %v", err)}
	}
	var certs [][]byte
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		certs = append(certs, pem.EncodeToMemory(block))
	}
	return certs, nil
}

// ValidateProxyURL accepts what AKS's httpProxy and httpsProxy take: an
// http or https URL with a host ("" is no proxy).
func ValidateProxyURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("is not a URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an http:// or https:// URL, not %q", u.Scheme)
	case u.Hostname() == "":
		return fmt.Errorf("names no host")
	case u.User != nil:
		// AKS: "User/Password authentication" is not supported.
		return fmt.Errorf("carries credentials, which AKS's HTTP proxy support does not take")
	}
	return nil
}

// ValidateNoProxyEntry accepts a no-proxy entry: a host name or domain
// suffix (.example.com), an IP address or a CIDR. AKS does not take a "*"
// wildcard on a domain suffix.
func ValidateNoProxyEntry(e string) error {
	switch {
	case e == "":
		return fmt.Errorf("is empty")
	case strings.Contains(e, "*"):
		return fmt.Errorf("wildcards are not supported; use a leading dot (.example.com) for a domain suffix")
	case strings.ContainsAny(e, " ,/") && !isCIDR(e):
		return fmt.Errorf("is not a host, domain suffix, IP address or CIDR")
	}
	return nil
}

func isCIDR(s string) bool {
	_, _, err := net.ParseCIDR(s)
	return err == nil
}

// ReadPEMCertificates reads a file of PEM certificates, each of which must
// parse, at most limit of them (0: any number).
func ReadPEMCertificates(file string, limit int) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if err := ValidatePEMCertificates(data, limit); err != nil {
		return nil, fmt.Errorf("%s %w", file, err)
	}
	return data, nil
}

// ValidatePEMCertificates checks a PEM bundle: only CERTIFICATE blocks, each
// an X.509 certificate, at least one and at most limit (0: any number).
func ValidatePEMCertificates(data []byte, limit int) error {
	n := 0
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM %s block; only certificates may be given", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("holds a certificate that does not parse: %w", err)
		}
		n++
	}
	switch {
	case n == 0:
		return fmt.Errorf("holds no PEM certificate")
	case strings.TrimSpace(string(rest)) != "":
		return fmt.Errorf("has content after its last PEM certificate that is not PEM")
	case limit > 0 && n > limit:
		return fmt.Errorf("holds %d certificates; AKS takes at most %d", n, limit)
	}
	return nil
}
