package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// AzureDNS is the resolver every Azure VM uses (Azure's virtual public IP).
// Failed lookups name it, as a node's logs on Azure do.
const AzureDNS = "168.63.129.16:53"

// Routes are the simulated virtual network's name resolution and routing
// towards the cluster: where a node's connection to host:port really goes.
// On Azure a node resolves the API server's FQDN and reaches it on port 443;
// in simulation the API server listens on a loopback port, so each endpoint
// a node may reach maps to a local address. Keys are lower-case host:port.
//
// A name without a route fails as an unknown name does on Azure (the lookup
// finds no such host), so a node told a wrong API server name never joins.
type Routes map[string]string

// ParseRoute reads host:port=ip:port.
func ParseRoute(s string) (from, to string, err error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("route %q: want <host>:<port>=<ip>:<port>", s)
	}
	for _, hp := range []string{from, to} {
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" {
			return "", "", fmt.Errorf("route %q: %q is not <host>:<port>", s, hp)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return "", "", fmt.Errorf("route %q: %q has no valid port", s, hp)
		}
	}
	return strings.ToLower(from), to, nil
}

// Add adds a route; it replaces an earlier route for the same endpoint.
func (r Routes) Add(from, to string) { r[strings.ToLower(from)] = to }

// errNoRoute is what connecting to an address nothing routes to ends with.
var errNoRoute = errors.New("connect: no route to host")

// DialContext connects to address (host:port) the way a node in the
// simulated network would: through its route, or not at all.
func (r Routes) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	to, ok := r[strings.ToLower(address)]
	if !ok {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		if ip := net.ParseIP(host); ip != nil {
			p, _ := strconv.Atoi(port)
			return nil, &net.OpError{Op: "dial", Net: network, Addr: &net.TCPAddr{IP: ip, Port: p}, Err: errNoRoute}
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, Server: AzureDNS, IsNotFound: true}}
	}
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, network, to)
}
