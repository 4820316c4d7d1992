package azuresim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The request-body checker: every PUT and PATCH body is checked against the
// resource's definition at the api-version the SDK sends, before the
// handler sees it. The definitions are the Azure SDK for Go's model types,
// which are generated from Azure's REST API specifications
// (zz_generated.sdkschema.go, written by hack/sdkschema).
//
// What Azure answers, and where that comes from:
//
//   - A property the definition does not have, or a value of the wrong JSON
//     type, in the resource's envelope: 400 InvalidRequestContent, "The
//     request content was invalid and could not be deserialized: 'Could not
//     find member 'X' on object of type 'ResourceDefinition'. Path 'X', line
//     l, position n.'." (Azure/azure-sdk-for-net#3487,
//     Azure/azure-rest-api-specs#286). Below the envelope the resource
//     provider answers with JSON.NET's message (type 'StorageProfile', path
//     'properties.storageProfile.…': Azure/azure-quickstart-templates#2334);
//     see contentError for each provider's code.
//   - A value outside an enum: the same, as JSON.NET's enum converter
//     refuses it ("Error converting value "X" to type 'CachingTypes'").
//     JSON.NET matches enum values case-insensitively, and so does the
//     checker. It matches member names case-insensitively too; the checker
//     does not, as azuresim's handlers read bodies with the SDK's decoder,
//     which does not (stricter than Azure: a body only a hand-written client
//     sends).
//   - A required property missing (or null): 400 InvalidParameter, target
//     "<parent>.<property>", "Required parameter '<parent>.<property>' is
//     missing (null)." (Compute: Azure/azure-quickstart-templates#419,
//     Azure/azure-powershell#4001). A tracked resource without a location is
//     ARM's LocationRequired.
//   - A read-only property: the ARM resource provider contract
//     (azure-resource-manager-rpc, v1.0/async-api-reference.md, on
//     provisioningState, "treat the field as a normal readonly property")
//     says a value matching the server's is ignored and any other value is
//     refused with 400. On a create there is no server value, so any value
//     is refused, except the top-level id, name and type when they name the
//     resource being created.

// sdkProp is one property of a generated schema type: its JSON name, its
// type (see hack/sdkschema) and flags: "r" required, "o" read-only.
type sdkProp struct{ json, typ, flags string }

type schemaKind int

const (
	kindObject schemaKind = iota
	kindArray
	kindMap
	kindString
	kindInt32
	kindInt64
	kindFloat
	kindBool
	kindTime
	kindBytes
	kindAny
	kindEnum
)

// schemaNode is a compiled schema type.
type schemaNode struct {
	kind schemaKind
	// name is an object's or enum's type name (without the package).
	name    string
	tracked bool                   // an object with a top-level location: ARM's ResourceDefinition
	props   map[string]*schemaProp // by JSON name
	order   []*schemaProp          // in the generated order, for required checks
	elem    *schemaNode
	values  []string
}

type schemaProp struct {
	json     string
	node     *schemaNode
	required bool
	readOnly bool
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*schemaNode{}
)

// schemaFor compiles a generated type ("armcompute.VirtualMachine").
func schemaFor(typ string) *schemaNode {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	return compileSchemaLocked(typ)
}

func compileSchemaLocked(typ string) *schemaNode {
	if n, ok := schemaCache[typ]; ok {
		return n
	}
	n := &schemaNode{}
	schemaCache[typ] = n // before the properties: types refer to themselves
	switch {
	case strings.HasPrefix(typ, "[]"):
		n.kind, n.elem = kindArray, compileSchemaLocked(strings.TrimPrefix(typ, "[]"))
	case strings.HasPrefix(typ, "map[string]"):
		n.kind, n.elem = kindMap, compileSchemaLocked(strings.TrimPrefix(typ, "map[string]"))
	case strings.HasPrefix(typ, "enum:"):
		key := strings.TrimPrefix(typ, "enum:")
		n.kind, n.name, n.values = kindEnum, typeName(key), sdkEnums[key]
	default:
		if props, ok := sdkTypes[typ]; ok {
			n.kind, n.name, n.props = kindObject, typeName(typ), map[string]*schemaProp{}
			for _, p := range props {
				sp := &schemaProp{json: p.json, node: compileSchemaLocked(p.typ),
					required: strings.Contains(p.flags, "r"), readOnly: strings.Contains(p.flags, "o")}
				n.props[p.json] = sp
				n.order = append(n.order, sp)
				if p.json == "location" {
					n.tracked = true
				}
			}
			break
		}
		kinds := map[string]schemaKind{"string": kindString, "int32": kindInt32, "int64": kindInt64, "float32": kindFloat, "float64": kindFloat,
			"bool": kindBool, "time": kindTime, "bytes": kindBytes, "any": kindAny}
		k, ok := kinds[typ]
		if !ok {
			panic("azuresim: schema type " + typ + " is not in the generated table; run hack/generate.sh")
		}
		n.kind = k
	}
	return n
}

func typeName(key string) string {
	_, name, _ := strings.Cut(key, ".")
	return name
}

// netTypeName is the type JSON.NET names when a value does not convert.
func (n *schemaNode) netTypeName() string {
	switch n.kind {
	case kindObject, kindEnum:
		return n.name
	case kindArray:
		return "System.Collections.Generic.IList`1[" + n.elem.netTypeName() + "]"
	case kindMap:
		return "System.Collections.Generic.IDictionary`2[System.String," + n.elem.netTypeName() + "]"
	case kindString, kindBytes:
		return "System.String"
	case kindInt32:
		return "System.Int32"
	case kindInt64:
		return "System.Int64"
	case kindFloat:
		return "System.Double"
	case kindBool:
		return "System.Boolean"
	case kindTime:
		return "System.DateTime"
	}
	return "System.Object"
}

// readOnlyValue is a read-only property a body sets.
type readOnlyValue struct {
	path  string // as Azure prints it: properties.osProfile.computerName, zones[0]
	segs  []any  // string keys and int indices, to find the server's value
	value json.RawMessage
}

// bodyCheck walks one body with a streaming decoder, so that errors carry
// the line and position JSON.NET reports.
type bodyCheck struct {
	network  bool // a Microsoft.Network resource (see contentError)
	body     []byte
	base     int64 // offset of dec's input in body
	dec      *json.Decoder
	readOnly []readOnlyValue
	missing  *ARMError // the first required property missing
}

// checkBody checks body against the generated type root. It returns the
// read-only properties the body sets (for checkReadOnly) or the error
// Azure answers.
func checkBody(body []byte, root string) ([]readOnlyValue, *ARMError) {
	c := &bodyCheck{body: body, network: strings.HasPrefix(root, "armnetwork.")}
	c.reset(body, 0)
	n := schemaFor(root)
	if _, err := c.value(n, "", nil, ""); err != nil {
		return nil, err
	}
	if c.dec.More() {
		_, _ = c.dec.Token()
		return nil, c.contentError("", "Additional text encountered after finished reading JSON content. Path ''")
	}
	if c.missing != nil {
		return nil, c.missing
	}
	return c.readOnly, nil
}

func (c *bodyCheck) reset(input []byte, base int64) {
	c.dec = json.NewDecoder(bytes.NewReader(input))
	c.dec.UseNumber()
	c.base = base
}

// position is JSON.NET's line and position of the decoder's offset.
func (c *bodyCheck) position() (int, int) {
	off := min(int(c.base+c.dec.InputOffset()), len(c.body))
	before := c.body[:off]
	line := 1 + bytes.Count(before, []byte("\n"))
	return line, off - (bytes.LastIndexByte(before, '\n') + 1)
}

// contentError answers a body that does not deserialize. ARM itself reads
// the resource envelope (id, name, location, tags, properties, zones, …):
// its answer is InvalidRequestContent. Below the envelope the resource
// provider's deserializer answers: Compute with BadRequest and JSON.NET's
// message as it is (Azure/azure-sdk-for-python#28818: "(BadRequest) Error
// converting value "DISK_WITH_VM_GUEST_STATE" to type …"), Network with
// InvalidRequestFormat, "Cannot parse the request." (Azure/azure-powershell#13896),
// azuresim putting JSON.NET's message in the details to name the property.
func (c *bodyCheck) contentError(path, what string) *ARMError {
	line, pos := c.position()
	text := fmt.Sprintf("%s, line %d, position %d.", what, line, pos)
	if !strings.ContainsAny(path, ".[") {
		return armErr(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: '%s'.", text)
	}
	if c.network {
		e := armErr(http.StatusBadRequest, "InvalidRequestFormat", "Cannot parse the request.")
		e.Details = []ARMErrorInfo{{Code: "InvalidJson", Message: text}}
		return e
	}
	return armErr(http.StatusBadRequest, "BadRequest", "%s", text)
}

func (c *bodyCheck) convertError(tok json.Token, n *schemaNode, path string) *ARMError {
	var v string
	switch t := tok.(type) {
	case string:
		v = strconv.Quote(t)
	case json.Delim:
		return c.contentError(path, fmt.Sprintf("Unexpected character encountered while parsing value: %s. Cannot convert it to type '%s'. Path '%s'", t, n.netTypeName(), path))
	default:
		v = fmt.Sprint(t)
	}
	return c.contentError(path, fmt.Sprintf("Error converting value %s to type '%s'. Path '%s'", v, n.netTypeName(), path))
}

func (c *bodyCheck) syntaxError(err error, path string) *ARMError {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return c.contentError(path, fmt.Sprintf("Unexpected end or invalid JSON (%v). Path '%s'", err, path))
}

// value checks the next value against n. parent is the JSON name of the
// property holding it (Compute names a missing property "parent.name").
func (c *bodyCheck) value(n *schemaNode, path string, segs []any, parent string) (isNull bool, aerr *ARMError) {
	if n.kind == kindAny {
		var raw json.RawMessage
		if err := c.dec.Decode(&raw); err != nil {
			return false, c.syntaxError(err, path)
		}
		return string(raw) == "null", nil
	}
	tok, err := c.dec.Token()
	if err != nil {
		return false, c.syntaxError(err, path)
	}
	if tok == nil {
		return true, nil
	}
	switch n.kind {
	case kindObject:
		if tok != json.Delim('{') {
			return false, c.convertError(tok, n, path)
		}
		return false, c.object(n, path, segs, parent)
	case kindArray, kindMap:
		open, closing := json.Delim('['), json.Delim(']')
		if n.kind == kindMap {
			open, closing = json.Delim('{'), json.Delim('}')
		}
		if tok != open {
			return false, c.convertError(tok, n, path)
		}
		for i := 0; c.dec.More(); i++ {
			p, seg := fmt.Sprintf("%s[%d]", path, i), any(i)
			if n.kind == kindMap {
				key, err := c.dec.Token()
				if err != nil {
					return false, c.syntaxError(err, path)
				}
				p, seg = joinPath(path, key.(string)), key
			}
			if _, aerr := c.value(n.elem, p, append(segs[:len(segs):len(segs)], seg), parent); aerr != nil {
				return false, aerr
			}
		}
		if end, err := c.dec.Token(); err != nil || end != closing {
			return false, c.syntaxError(err, path)
		}
		return false, nil
	}
	if !n.accepts(tok) {
		return false, c.convertError(tok, n, path)
	}
	return false, nil
}

// accepts reports whether a scalar token is a value of n.
func (n *schemaNode) accepts(tok json.Token) bool {
	switch n.kind {
	case kindString, kindBytes:
		_, ok := tok.(string)
		return ok
	case kindTime:
		s, ok := tok.(string)
		if !ok {
			return false
		}
		_, err := parseARMTime(s)
		return err == nil
	case kindEnum:
		s, ok := tok.(string)
		if !ok {
			return false
		}
		for _, v := range n.values {
			if strings.EqualFold(v, s) {
				return true
			}
		}
		return len(n.values) == 0
	case kindInt32, kindInt64:
		num, ok := tok.(json.Number)
		if !ok {
			return false
		}
		bits := lo3264(n.kind)
		_, err := strconv.ParseInt(string(num), 10, bits)
		return err == nil
	case kindFloat:
		num, ok := tok.(json.Number)
		if !ok {
			return false
		}
		_, err := num.Float64()
		return err == nil
	case kindBool:
		_, ok := tok.(bool)
		return ok
	}
	return false
}

func lo3264(k schemaKind) int {
	if k == kindInt32 {
		return 32
	}
	return 64
}

func (c *bodyCheck) object(n *schemaNode, path string, segs []any, parent string) *ARMError {
	present := map[*schemaProp]bool{}
	for c.dec.More() {
		keyTok, err := c.dec.Token()
		if err != nil {
			return c.syntaxError(err, path)
		}
		key := keyTok.(string)
		p := joinPath(path, key)
		prop, ok := n.props[key]
		if !ok {
			typ := n.name
			if path == "" && n.tracked {
				typ = "ResourceDefinition"
			}
			return c.contentError(p, fmt.Sprintf("Could not find member '%s' on object of type '%s'. Path '%s'", key, typ, p))
		}
		childSegs := append(segs[:len(segs):len(segs)], prop.json)
		if prop.readOnly {
			if aerr := c.captureReadOnly(prop, p, childSegs); aerr != nil {
				return aerr
			}
			continue
		}
		isNull, aerr := c.value(prop.node, p, childSegs, prop.json)
		if aerr != nil {
			return aerr
		}
		if !isNull {
			present[prop] = true
		}
	}
	if _, err := c.dec.Token(); err != nil { // '}'
		return c.syntaxError(err, path)
	}
	if c.missing == nil {
		c.missing = missingRequired(n, present, path, parent)
	}
	return nil
}

// missingRequired is the refusal of the first required property of n the
// object does not have (nil when it has them all).
func missingRequired(n *schemaNode, present map[*schemaProp]bool, path, parent string) *ARMError {
	for _, prop := range n.order {
		if !prop.required || present[prop] {
			continue
		}
		if path == "" && prop.json == "location" {
			return armErr(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		target := prop.json
		if parent != "" {
			target = parent + "." + prop.json
		}
		return errInvalidParameter(target, "Required parameter '%s' is missing (null).", target)
	}
	return nil
}

// captureReadOnly records a read-only property's value after checking its
// type.
func (c *bodyCheck) captureReadOnly(prop *schemaProp, path string, segs []any) *ARMError {
	start := c.base + c.dec.InputOffset()
	var raw json.RawMessage
	if err := c.dec.Decode(&raw); err != nil {
		return c.syntaxError(err, path)
	}
	if string(raw) == "null" {
		return nil
	}
	// Type-check the value with a decoder of its own, positioned where it
	// starts in the body (after the colon and any space).
	rest := c.body[start:]
	skip := bytes.IndexFunc(rest, func(r rune) bool { return r != ':' && r != ' ' && r != '\t' && r != '\n' && r != '\r' })
	saved, savedBase, savedRO := c.dec, c.base, c.readOnly
	c.reset(raw, start+int64(skip))
	_, aerr := c.value(prop.node, path, segs, prop.json)
	c.dec, c.base = saved, savedBase
	c.readOnly = append(savedRO, readOnlyValue{path: path, segs: segs, value: raw})
	return aerr
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkReadOnly compares the read-only values a body sets with the
// resource as the server has it (its GET JSON; nil when it does not exist
// yet).
func checkReadOnly(found []readOnlyValue, current []byte) *ARMError {
	if len(found) == 0 {
		return nil
	}
	var cur any
	if current != nil {
		d := json.NewDecoder(bytes.NewReader(current))
		d.UseNumber()
		if err := d.Decode(&cur); err != nil {
			cur = nil
		}
	}
	for _, ro := range found {
		have, ok := lookupJSON(cur, ro.segs)
		var want any
		d := json.NewDecoder(bytes.NewReader(ro.value))
		d.UseNumber()
		_ = d.Decode(&want)
		if ok && sameJSON(want, have) {
			continue
		}
		server := "none, as the resource does not exist yet"
		if ok {
			b, _ := json.Marshal(have)
			server = string(b)
		} else if cur != nil {
			server = "none"
		}
		return errInvalidParameter(ro.path, "The property '%s' is read-only: a request may only repeat the value the resource has (%s), not set %s.", ro.path, server, string(ro.value))
	}
	return nil
}

func lookupJSON(v any, segs []any) (any, bool) {
	for _, s := range segs {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			found := false
			for mk, mv := range m {
				if strings.EqualFold(mk, k) {
					v, found = mv, true
					break
				}
			}
			if !found {
				return nil, false
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			v = a[k]
		}
	}
	return v, true
}

// sameJSON compares two decoded JSON values; strings (IDs, names) compare
// case-insensitively, as ARM compares resource IDs.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && strings.EqualFold(x, y)
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, e1 := x.Float64()
		fy, e2 := y.Float64()
		return e1 == nil && e2 == nil && fx == fy
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !sameJSON(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// checkedBody wraps a PUT or PATCH handler: the body is checked against the
// generated type root (and its read-only properties against the resource
// as a GET returns it) before h reads it.
func (s *Server) checkedBody(root string, h http.HandlerFunc) http.HandlerFunc {
	schemaFor(root) // a root missing from the generated table panics here, at start-up
	return func(w http.ResponseWriter, r *http.Request) {
		// ARM refuses a bad name in the URL before it reads the body.
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if name := segs[len(segs)-1]; !validName(name) {
			rt := strings.Split(resourceTypeOf(r.URL.Path), "/")
			writeARMError(w, errInvalidName(rt[len(rt)-1], name))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeARMError(w, armErr(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read: %v", err))
			return
		}
		if len(body) > maxBody {
			writeARMError(w, armErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request content exceeds %d bytes.", maxBody))
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			found, aerr := checkBody(body, root)
			if aerr == nil && len(found) > 0 {
				aerr = checkReadOnly(found, s.currentOrNew(r, root))
			}
			if aerr != nil {
				s.log.Debug("azuresim request body refused", "method", r.Method, "path", r.URL.Path, "code", aerr.Code, "message", aerr.Message)
				writeARMError(w, aerr)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}
}

// currentOrNew is the resource at r's path as its GET returns it, or, when
// it does not exist, the identity a create gives it (id, name, type).
func (s *Server) currentOrNew(r *http.Request, root string) []byte {
	get := httptest.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Path+"?"+r.URL.RawQuery, nil)
	rec := httptest.NewRecorder()
	if _, pattern := s.reads.Handler(get); pattern != "" {
		s.reads.ServeHTTP(rec, get)
		if rec.Code == http.StatusOK {
			return rec.Body.Bytes()
		}
	}
	if n := schemaFor(root); !n.tracked {
		return nil // a PATCH of something that is not there: the handler answers
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	id := map[string]string{"id": r.URL.Path, "name": segs[len(segs)-1], "type": resourceTypeOf(r.URL.Path)}
	b, _ := json.Marshal(id)
	return b
}

// parseARMTime accepts the date-times ARM accepts in bodies: RFC 3339, with
// or without a zone (the SDK sends RFC 3339).
func parseARMTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date-time: %q", s)
}
