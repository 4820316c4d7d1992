package azuresim

import (
	"crypto/subtle"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	computeRP = "/providers/Microsoft.Compute"
	networkRP = "/providers/Microsoft.Network"
	subPath   = "/subscriptions/{sub}"
	rgPath    = subPath + "/resourceGroups/{rg}"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// s.reads serves the GETs without the middleware, for the body checker
	// to read a resource as the server has it.
	s.reads = http.NewServeMux()
	arm := func(pattern, op string, class armClass, buckets []string, h http.HandlerFunc) {
		mux.Handle(pattern, s.armMiddleware(op, class, buckets, h))
		if strings.HasPrefix(pattern, http.MethodGet+" ") {
			s.reads.Handle(pattern, h)
		}
	}
	// Every write's body is checked against the SDK's model of it.
	body := s.checkedBody
	// Compute.
	arm("GET "+subPath+computeRP+"/skus", OpListSKUs, armRead, nil, s.listSKUs)
	arm("GET "+subPath+computeRP+"/locations/{loc}/usages", OpListUsages, armRead, nil, s.listUsages)
	arm("GET "+subPath+computeRP+"/locations/{loc}/operations/{op}", OpGetOperation, armRead, []string{BucketGetOperation}, s.getOperation)
	arm("GET "+subPath+computeRP+"/virtualMachines", OpListVMAll, armRead, []string{BucketListVM}, s.listVMs)
	arm("GET "+rgPath+computeRP+"/virtualMachines", OpListVM, armRead, []string{BucketListVM}, s.listVMs)
	arm("PUT "+rgPath+computeRP+"/virtualMachines/{name}", OpPutVM, armWrite, []string{BucketPutVM, BucketPutVMResource}, body("armcompute.VirtualMachine", s.putVM))
	arm("GET "+rgPath+computeRP+"/virtualMachines/{name}", OpGetVM, armRead, []string{BucketGetVM}, s.getVM)
	arm("GET "+rgPath+computeRP+"/virtualMachines/{name}/instanceView", OpInstanceView, armRead, []string{BucketGetVM}, s.getInstanceView)
	arm("DELETE "+rgPath+computeRP+"/virtualMachines/{name}", OpDeleteVM, armDelete, []string{BucketDeleteVM, BucketDeleteVMResource}, s.deleteVM)
	arm("PATCH "+rgPath+computeRP+"/virtualMachines/{name}", OpPatchVM, armWrite, []string{BucketPutVM, BucketPutVMResource}, body("armcompute.VirtualMachineUpdate", s.patchVM))
	arm("PUT "+rgPath+computeRP+"/virtualMachines/{name}/extensions/{ext}", OpPutVMExtension, armWrite, []string{BucketPutVMResource}, body("armcompute.VirtualMachineExtension", s.putExtension))
	arm("GET "+rgPath+computeRP+"/virtualMachines/{name}/extensions/{ext}", OpGetVMExtension, armRead, []string{BucketGetVM}, s.getExtension)
	arm("DELETE "+rgPath+computeRP+"/virtualMachines/{name}/extensions/{ext}", OpDeleteVMExtension, armDelete, []string{BucketDeleteVMResource}, s.deleteExtension)
	// Community galleries: public, readable from any subscription; reads
	// count against the subscription's ARM read bucket.
	galleryImage := subPath + computeRP + "/locations/{loc}/communityGalleries/{gallery}/images/{image}"
	arm("GET "+galleryImage, OpGetGalleryImage, armRead, nil, s.getGalleryImage)
	arm("GET "+galleryImage+"/versions", OpListGalleryImageVersions, armRead, nil, s.listGalleryImageVersions)
	arm("GET "+galleryImage+"/versions/{version}", OpGetGalleryImageVersion, armRead, nil, s.getGalleryImageVersion)
	arm("PUT "+rgPath+computeRP+"/hostGroups/{name}", OpPutHostGroup, armWrite, nil, body("armcompute.DedicatedHostGroup", s.putHostGroup))
	arm("GET "+rgPath+computeRP+"/hostGroups/{name}", OpGetHostGroup, armRead, nil, s.getHostGroup)
	arm("PUT "+rgPath+computeRP+"/diskEncryptionSets/{name}", OpPutDiskEncryptionSet, armWrite, nil, s.putDiskEncryptionSet)
	arm("GET "+rgPath+computeRP+"/diskEncryptionSets/{name}", OpGetDiskEncryptionSet, armRead, nil, s.getDiskEncryptionSet)
	arm("GET "+rgPath+computeRP+"/disks", OpListDisks, armRead, nil, s.listDisks)
	arm("GET "+rgPath+computeRP+"/disks/{name}", OpGetDisk, armRead, nil, s.getDisk)
	arm("DELETE "+rgPath+computeRP+"/disks/{name}", OpDeleteDisk, armDelete, nil, s.deleteDisk)
	// Network.
	nr, nw := []string{BucketNetworkReads}, []string{BucketNetworkWrites}
	arm("GET "+subPath+networkRP+"/locations/{loc}/operations/{op}", OpGetOperation, armRead, nr, s.getOperation)
	arm("GET "+subPath+networkRP+"/networkInterfaces", OpListNICAll, armRead, nr, s.listNICs)
	arm("GET "+rgPath+networkRP+"/networkInterfaces", OpListNIC, armRead, nr, s.listNICs)
	arm("PUT "+rgPath+networkRP+"/networkInterfaces/{name}", OpPutNIC, armWrite, nw, body("armnetwork.Interface", s.putNIC))
	arm("GET "+rgPath+networkRP+"/networkInterfaces/{name}", OpGetNIC, armRead, nr, s.getNIC)
	arm("DELETE "+rgPath+networkRP+"/networkInterfaces/{name}", OpDeleteNIC, armDelete, nw, s.deleteNIC)
	arm("PATCH "+rgPath+networkRP+"/networkInterfaces/{name}", OpPatchNIC, armWrite, nw, body("armnetwork.TagsObject", s.patchNICTags))
	arm("PUT "+rgPath+networkRP+"/virtualNetworks/{vnet}", OpPutVNet, armWrite, nw, body("armnetwork.VirtualNetwork", s.putVNet))
	arm("GET "+rgPath+networkRP+"/virtualNetworks/{vnet}", OpGetVNet, armRead, nr, s.getVNet)
	arm("GET "+rgPath+networkRP+"/virtualNetworks/{vnet}/usages", OpVNetUsages, armRead, nr, s.listVNetUsages)
	arm("PUT "+rgPath+networkRP+"/virtualNetworks/{vnet}/subnets/{subnet}", OpPutSubnet, armWrite, nw, body("armnetwork.Subnet", s.putSubnet))
	arm("GET "+rgPath+networkRP+"/virtualNetworks/{vnet}/subnets/{subnet}", OpGetSubnet, armRead, nr, s.getSubnet)
	arm("PUT "+rgPath+networkRP+"/loadBalancers/{name}", OpPutLoadBalancer, armWrite, nw, body("armnetwork.LoadBalancer", s.putLoadBalancer))
	arm("GET "+rgPath+networkRP+"/loadBalancers/{name}", OpGetLoadBalancer, armRead, nr, s.getLoadBalancer)
	arm("GET "+rgPath+networkRP+"/loadBalancers", OpListLoadBalancers, armRead, nr, s.listLoadBalancers)
	arm("GET "+rgPath+networkRP+"/loadBalancers/{name}/backendAddressPools/{pool}", OpGetBackendPool, armRead, nr, s.getBackendPool)
	arm("PUT "+rgPath+networkRP+"/networkSecurityGroups/{name}", OpPutNSG, armWrite, nw, body("armnetwork.SecurityGroup", s.putNetworkSecurityGroup))
	arm("GET "+rgPath+networkRP+"/networkSecurityGroups/{name}", OpGetNSG, armRead, nr, s.getNetworkSecurityGroup)
	arm("GET "+rgPath+networkRP+"/networkSecurityGroups", OpListNSGs, armRead, nr, s.listNetworkSecurityGroups)
	arm("PUT "+rgPath+networkRP+"/routeTables/{name}", OpPutRouteTable, armWrite, nw, body("armnetwork.RouteTable", s.putRouteTable))
	arm("GET "+rgPath+networkRP+"/routeTables/{name}", OpGetRouteTable, armRead, nr, s.getRouteTable)
	arm("GET "+rgPath+networkRP+"/routeTables", OpListRouteTables, armRead, nr, s.listRouteTables)
	// Retail Prices: public, unauthenticated, unthrottled.
	mux.Handle("GET /api/retail/prices", s.plainMiddleware(OpRetailPrices, http.HandlerFunc(s.retailPrices)))
	// Admin.
	s.adminRoutes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			s.stats.record(OpUnknown, http.StatusNotFound, 0)
			writeARMError(w, armErr(http.StatusNotFound, "InvalidResourceType",
				"The resource type could not be found in the namespace for api version or the request path %q is not served by azuresim.", r.URL.Path))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// recorder captures the status for stats, and the body of an error
// response for the request log.
type recorder struct {
	http.ResponseWriter
	status  int
	errBody []byte
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && len(r.errBody) < 4096 {
		r.errBody = append(r.errBody, b...)
	}
	return r.ResponseWriter.Write(b)
}

// guard turns a panic into a 500 ARM error: a simulator bug must show up as
// a failed request and a log line, never as a crashed process.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) {
	if v := recover(); v != nil {
		s.log.Error("azuresim handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
		writeARMError(w, armErr(http.StatusInternalServerError, "InternalServerError", "An internal error occurred in azuresim."))
	}
}

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

func (s *Server) armMiddleware(op string, class armClass, buckets []string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			status := max(rec.status, 200)
			s.stats.record(op, status, time.Since(start))
			req := Request{Time: start, Method: r.Method, Path: r.URL.Path, Operation: op, Status: status, DurationMs: ms(time.Since(start))}
			if status >= 400 {
				req.ErrorCode = errorCode(rec.errBody)
			}
			s.requests.add(req)
		}()
		defer s.guard(rec, r)
		reqID := uuid.NewString()
		rec.Header().Set("x-ms-request-id", reqID)
		rec.Header().Set("x-ms-correlation-request-id", reqID)
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "Bearer ") || len(auth) == len("Bearer ") {
			rec.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
			writeARMError(rec, armErr(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."))
			return
		}
		v := r.URL.Query().Get("api-version")
		if v == "" {
			writeARMError(rec, armErr(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
			return
		}
		if aerr := s.checkAPIVersion(r, v); aerr != nil {
			writeARMError(rec, aerr)
			return
		}
		resourceID := ""
		if name := r.PathValue("name"); name != "" {
			resourceID = r.URL.Path
		}
		if t := s.throttle.admit(throttleKey{class: class, subscription: lower(r.PathValue("sub")), rpBuckets: buckets, resourceID: resourceID}, rec.Header()); t != nil {
			s.log.Debug("azuresim throttled", "op", op, "bucket", t.bucket, "retryAfter", t.retryAfter)
			t.write(rec, r.PathValue("sub"))
			return
		}
		h.ServeHTTP(rec, r)
	})
}

func (s *Server) plainMiddleware(op string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() { s.stats.record(op, max(rec.status, 200), time.Since(start)) }()
		defer s.guard(rec, r)
		h.ServeHTTP(rec, r)
	})
}

func (s *Server) adminMiddleware(h http.HandlerFunc) http.Handler {
	return s.plainMiddleware(OpAdmin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.admin)) != 1 {
			writeARMError(w, armErr(http.StatusUnauthorized, "AuthenticationFailed", "The admin API needs 'Authorization: Bearer <admin token>'."))
			return
		}
		h(w, r)
	}))
}
