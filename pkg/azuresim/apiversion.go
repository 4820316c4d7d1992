package azuresim

import (
	"net/http"
	"slices"
	"strings"
)

// Only the api-versions the Azure SDK's clients send are served, per
// resource type as ARM registers them (sdkAPIVersions, generated from the
// SDK's clients by hack/sdkschema). ARM answers others as it answers an
// api-version a resource provider does not register for the type:
//
//	400 NoRegisteredProviderFound: "No registered resource provider found
//	for location '<location>' and API version '<version>' for type
//	'<type>'. The supported api-versions are '<versions>'. The supported
//	locations are '<locations>'."
//
// (Azure/azure-cli#28496 and turbot/steampipe-plugin-azure#379 for
// networkInterfaces and a GET; MicrosoftDocs/azure-docs#62621 for
// virtualMachines/extensions and a PUT; the status is 400 in the latter.)
// An api-version that is not a date at all is ARM's
// InvalidApiVersionParameter, "The api-version '<v>' is invalid. The
// supported versions are '<versions>'." (ansible-collections/azure#188,
// hashicorp/vault-plugin-secrets-azure#13).

// resourceTypeOf is the ARM resource type a request path addresses: the
// namespace after the last /providers/ and every other segment from there
// (Microsoft.Compute/virtualMachines/extensions). "" for paths outside a
// provider.
func resourceTypeOf(path string) string {
	i := strings.LastIndex(lower(path), "/providers/")
	if i < 0 {
		return ""
	}
	segs := strings.Split(strings.Trim(path[i+len("/providers/"):], "/"), "/")
	if len(segs) < 2 {
		return ""
	}
	parts := []string{segs[0]}
	for j := 1; j < len(segs); j += 2 {
		parts = append(parts, segs[j])
	}
	return strings.Join(parts, "/")
}

var sdkAPIVersionsLower = func() map[string][]string {
	out := make(map[string][]string, len(sdkAPIVersions))
	for k, v := range sdkAPIVersions {
		out[lower(k)] = v
	}
	return out
}()

// servedAPIVersions are the api-versions served for a resource type. The
// status of an asynchronous operation is served at the api-version of the
// request that started it, so at any version the namespace serves.
func servedAPIVersions(resourceType string) []string {
	if v, ok := sdkAPIVersionsLower[lower(resourceType)]; ok {
		return v
	}
	ns, rest, _ := strings.Cut(resourceType, "/")
	if !strings.EqualFold(rest, "locations/operations") {
		return nil
	}
	var out []string
	for k, vs := range sdkAPIVersions {
		if kns, _, _ := strings.Cut(k, "/"); strings.EqualFold(kns, ns) {
			for _, v := range vs {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkAPIVersion answers a request whose api-version the SDK does not
// send for its resource type. location is the request's, when known.
func (s *Server) checkAPIVersion(r *http.Request, version string) *ARMError {
	rt := resourceTypeOf(r.URL.Path)
	served := servedAPIVersions(rt)
	if slices.Contains(served, version) {
		return nil
	}
	if !apiVersionRE.MatchString(version) {
		return armErr(http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", version, strings.Join(served, ","))
	}
	_, typ, _ := strings.Cut(rt, "/")
	locations := make([]string, 0, len(s.cat.Regions))
	for _, reg := range s.cat.Regions {
		locations = append(locations, reg.Name)
	}
	return armErr(http.StatusBadRequest, "NoRegisteredProviderFound",
		"No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'. The supported locations are '%s'.",
		lower(r.PathValue("loc")), version, typ, strings.Join(served, ", "), strings.Join(locations, ", "))
}
