// Command sdkschema writes the request-body schema azuresim checks PUT and
// PATCH bodies against: for every model type a write accepts, its JSON
// properties with their types, and which are required or read-only; for
// every enum, its values.
//
// The source is the Azure SDK for Go's generated model code in the module
// cache, at the versions go.mod pins. That code is generated from Azure's
// REST API specifications at the api-version each client sends, so it
// carries the specification's facts:
//
//   - models.go: one struct per definition; a field's doc comment starts
//     with "REQUIRED;" or "READ-ONLY;" when the specification says so;
//   - models_serde.go: MarshalJSON/UnmarshalJSON, which name each field's
//     JSON property;
//   - constants.go: Possible<Enum>Values, the values of each enum;
//   - interfaces.go: polymorphic (discriminated) bases, which are left
//     unchecked ("any");
//   - *_client.go: each operation's URL and the api-version it sends, from
//     which the table of api-versions per resource type is made (ARM serves
//     api-versions per resource type).
//
// It is run by hack/generate.sh; `make verify-generate` fails when the
// committed table is stale (a new SDK version, or a new root type).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// sdkPackage is one SDK module and the model types whose bodies azuresim
// accepts in writes (the roots; everything they reach is included).
type sdkPackage struct {
	module string
	name   string
	roots  []string
}

var packages = []sdkPackage{
	{
		module: "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7",
		name:   "armcompute",
		roots:  []string{"VirtualMachine", "VirtualMachineUpdate", "VirtualMachineExtension", "DedicatedHostGroup", "DedicatedHost"},
	},
	{
		module: "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7",
		name:   "armnetwork",
		roots:  []string{"Interface", "TagsObject", "VirtualNetwork", "Subnet", "SecurityGroup", "RouteTable", "LoadBalancer", "PublicIPAddress"},
	},
}

// openEnums are enums whose Possible…Values are not the values Azure
// accepts, checked as plain strings.
var openEnums = map[string]string{
	// The SDK's own doc comment: "The enum data type is currently deprecated
	// and will be removed by December 23rd 2023. The recommended way to get
	// the list of available sizes is using these APIs" (Resource SKUs). The
	// list stops at sizes from years ago; azuresim checks vmSize against its
	// catalog instead.
	"armcompute.VirtualMachineSizeTypes": "deprecated; sizes come from the Resource SKUs API",
}

func main() {
	out := flag.String("out", "pkg/azuresim/zz_generated.sdkschema.go", "file to write")
	flag.Parse()
	var types []typeEntry
	enums := map[string][]string{}
	apiVersions := map[string]map[string]bool{}
	versions := map[string]string{}
	for _, p := range packages {
		dir, version, err := moduleDir(p.module)
		if err != nil {
			log.Fatal(err)
		}
		versions[p.name] = p.module + " " + version
		m, err := parseModels(dir, p.name)
		if err != nil {
			log.Fatal(err)
		}
		if err := readAPIVersions(dir, apiVersions); err != nil {
			log.Fatal(err)
		}
		ts, es, err := m.closure(p.roots)
		if err != nil {
			log.Fatal(err)
		}
		types = append(types, ts...)
		for k, v := range es {
			enums[k] = v
		}
	}
	src, err := render(types, enums, apiVersions, versions)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// moduleDir asks the go command where the pinned module lives.
func moduleDir(module string) (dir, version string, err error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", module).Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] == "" {
		return "", "", fmt.Errorf("go list -m %s: no module directory (run go mod download)", module)
	}
	return f[0], f[1], nil
}

// models is what one SDK package says about its types.
type models struct {
	pkg        string
	structs    map[string]*ast.StructType
	stringEnum map[string][]string // named string type -> values (Possible…Values)
	named      map[string]ast.Expr // other named types -> underlying type
	ifaces     map[string]bool
	jsonNames  map[string]map[string]string // type -> field -> JSON name
	consts     map[string]string            // const name -> string value
}

func parseModels(dir, pkg string) (*models, error) {
	fset := token.NewFileSet()
	m := &models{pkg: pkg, structs: map[string]*ast.StructType{}, stringEnum: map[string][]string{}, named: map[string]ast.Expr{},
		ifaces: map[string]bool{}, jsonNames: map[string]map[string]string{}, consts: map[string]string{}}
	var possible []*ast.FuncDecl
	for _, name := range []string{"models.go", "models_serde.go", "constants.go", "interfaces.go"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				m.genDecl(d)
			case *ast.FuncDecl:
				switch {
				case d.Recv == nil && strings.HasPrefix(d.Name.Name, "Possible") && strings.HasSuffix(d.Name.Name, "Values"):
					possible = append(possible, d)
				case d.Recv != nil && (d.Name.Name == "MarshalJSON" || d.Name.Name == "UnmarshalJSON"):
					m.serde(d)
				}
			}
		}
	}
	for _, d := range possible {
		typ := strings.TrimSuffix(strings.TrimPrefix(d.Name.Name, "Possible"), "Values")
		var values []string
		ast.Inspect(d.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				if v, ok := m.consts[id.Name]; ok {
					values = append(values, v)
				}
			}
			return true
		})
		m.stringEnum[typ] = values
	}
	return m, nil
}

func (m *models) genDecl(d *ast.GenDecl) {
	for _, spec := range d.Specs {
		switch s := spec.(type) {
		case *ast.TypeSpec:
			switch t := s.Type.(type) {
			case *ast.StructType:
				m.structs[s.Name.Name] = t
			case *ast.InterfaceType:
				m.ifaces[s.Name.Name] = true
			default:
				m.named[s.Name.Name] = t
			}
		case *ast.ValueSpec:
			if d.Tok != token.CONST {
				continue
			}
			for i, n := range s.Names {
				if i < len(s.Values) {
					if lit, ok := s.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if v, err := strconv.Unquote(lit.Value); err == nil {
							m.consts[n.Name] = v
						}
					}
				}
			}
		}
	}
}

// serde reads the JSON name of each field from a MarshalJSON
// (populate(objectMap, "name", x.Field)) or UnmarshalJSON
// (case "name": ... &x.Field).
func (m *models) serde(d *ast.FuncDecl) {
	recv := d.Recv.List[0].Type
	if st, ok := recv.(*ast.StarExpr); ok {
		recv = st.X
	}
	id, ok := recv.(*ast.Ident)
	if !ok {
		return
	}
	names := m.jsonNames[id.Name]
	if names == nil {
		names = map[string]string{}
		m.jsonNames[id.Name] = names
	}
	ast.Inspect(d.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			// populate*(objectMap, "json", x.Field[, ...])
			if len(x.Args) >= 3 {
				if lit, ok := x.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if sel, ok := x.Args[2].(*ast.SelectorExpr); ok {
						if v, err := strconv.Unquote(lit.Value); err == nil {
							names[sel.Sel.Name] = v
						}
					}
				}
			}
		case *ast.CaseClause:
			if len(x.List) != 1 {
				return true
			}
			lit, ok := x.List[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, stmt := range x.Body {
				ast.Inspect(stmt, func(n ast.Node) bool {
					if u, ok := n.(*ast.UnaryExpr); ok && u.Op == token.AND {
						if sel, ok := u.X.(*ast.SelectorExpr); ok {
							names[sel.Sel.Name] = v
						}
					}
					return true
				})
			}
		}
		return true
	})
}

// typeEntry is one struct type in the output.
type typeEntry struct {
	key   string // pkg.Type
	props []propEntry
}

type propEntry struct {
	json     string
	typ      string
	required bool
	readOnly bool
}

// closure returns every struct type reachable from roots, and the enums
// they use.
func (m *models) closure(roots []string) ([]typeEntry, map[string][]string, error) {
	seen := map[string]bool{}
	enums := map[string][]string{}
	var out []typeEntry
	queue := append([]string(nil), roots...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		st, ok := m.structs[name]
		if !ok {
			return nil, nil, fmt.Errorf("%s.%s: not a struct type", m.pkg, name)
		}
		names := m.jsonNames[name]
		e := typeEntry{key: m.pkg + "." + name}
		for _, f := range st.Fields.List {
			if len(f.Names) != 1 {
				return nil, nil, fmt.Errorf("%s.%s: embedded or multi-name field", m.pkg, name)
			}
			field := f.Names[0].Name
			jsonName, ok := names[field]
			if !ok {
				return nil, nil, fmt.Errorf("%s.%s.%s: no JSON name in MarshalJSON/UnmarshalJSON", m.pkg, name, field)
			}
			typ, refs, err := m.typeOf(f.Type, enums)
			if err != nil {
				return nil, nil, fmt.Errorf("%s.%s.%s: %w", m.pkg, name, field, err)
			}
			queue = append(queue, refs...)
			doc := strings.TrimSpace(f.Doc.Text())
			e.props = append(e.props, propEntry{json: jsonName, typ: typ,
				required: strings.HasPrefix(doc, "REQUIRED;"), readOnly: strings.HasPrefix(doc, "READ-ONLY;")})
		}
		sort.Slice(e.props, func(i, j int) bool { return e.props[i].json < e.props[j].json })
		out = append(out, e)
	}
	return out, enums, nil
}

// typeOf is a field type as the schema writes it: string, int32, int64,
// float32, float64, bool, time, bytes, any, []T, map[string]T, an enum or
// a struct (pkg.Name). refs are the struct types it refers to.
func (m *models) typeOf(e ast.Expr, enums map[string][]string) (string, []string, error) {
	switch t := e.(type) {
	case *ast.StarExpr:
		return m.typeOf(t.X, enums)
	case *ast.ArrayType:
		if id, ok := t.Elt.(*ast.Ident); ok && id.Name == "byte" {
			return "bytes", nil, nil
		}
		s, refs, err := m.typeOf(t.Elt, enums)
		return "[]" + s, refs, err
	case *ast.MapType:
		if k, ok := t.Key.(*ast.Ident); !ok || k.Name != "string" {
			return "", nil, fmt.Errorf("map key %T", t.Key)
		}
		s, refs, err := m.typeOf(t.Value, enums)
		return "map[string]" + s, refs, err
	case *ast.InterfaceType:
		return "any", nil, nil
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok && x.Name == "time" && t.Sel.Name == "Time" {
			return "time", nil, nil
		}
		return "", nil, fmt.Errorf("type %s.%s", t.X, t.Sel.Name)
	case *ast.Ident:
		switch t.Name {
		case "string", "int32", "int64", "float32", "float64", "bool", "any":
			return t.Name, nil, nil
		}
		if m.ifaces[t.Name] {
			return "any", nil, nil // a polymorphic base: not checked
		}
		if _, ok := m.structs[t.Name]; ok {
			return m.pkg + "." + t.Name, []string{t.Name}, nil
		}
		if _, open := openEnums[m.pkg+"."+t.Name]; open {
			return "string", nil, nil
		}
		if vals, ok := m.stringEnum[t.Name]; ok {
			enums[m.pkg+"."+t.Name] = vals
			return "enum:" + m.pkg + "." + t.Name, nil, nil
		}
		if u, ok := m.named[t.Name]; ok {
			return m.typeOf(u, enums)
		}
		return "", nil, fmt.Errorf("unknown type %s", t.Name)
	}
	return "", nil, fmt.Errorf("unsupported type %T", e)
}

// readAPIVersions reads every client operation's URL template and
// api-version, keyed by resource type as ARM names it: the provider
// namespace and the type segments after it, e.g.
// Microsoft.Compute/virtualMachines/extensions (an action's name is the
// last segment, e.g. Microsoft.Compute/virtualMachines/start).
func readAPIVersions(dir string, out map[string]map[string]bool) error {
	files, err := filepath.Glob(filepath.Join(dir, "*_client.go"))
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var urlPath, version string
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.AssignStmt:
					if id, ok := x.Lhs[0].(*ast.Ident); ok && id.Name == "urlPath" && len(x.Rhs) == 1 {
						if lit, ok := x.Rhs[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							urlPath, _ = strconv.Unquote(lit.Value)
						}
					}
				case *ast.CallExpr:
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Set" && len(x.Args) == 2 {
						k, ok1 := x.Args[0].(*ast.BasicLit)
						v, ok2 := x.Args[1].(*ast.BasicLit)
						if ok1 && ok2 && k.Value == `"api-version"` {
							version, _ = strconv.Unquote(v.Value)
						}
					}
				}
				return true
			})
			if urlPath == "" || version == "" {
				continue
			}
			if rt := resourceType(urlPath); rt != "" {
				if out[rt] == nil {
					out[rt] = map[string]bool{}
				}
				out[rt][version] = true
			}
		}
	}
	return nil
}

// resourceType is the resource type an ARM URL addresses: the namespace
// after the last /providers/ and every other segment from there.
func resourceType(urlPath string) string {
	i := strings.LastIndex(urlPath, "/providers/")
	if i < 0 {
		return ""
	}
	segs := strings.Split(strings.Trim(urlPath[i+len("/providers/"):], "/"), "/")
	if len(segs) < 2 {
		return ""
	}
	parts := []string{segs[0]}
	for j := 1; j < len(segs); j += 2 {
		parts = append(parts, segs[j])
	}
	return strings.Join(parts, "/")
}

func render(types []typeEntry, enums map[string][]string, apiVersions map[string]map[string]bool, versions map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by hack/sdkschema from the Azure SDK for Go's model types; DO NOT EDIT.\n\n")
	b.WriteString("// Sources (the go.mod pins):\n")
	for _, k := range sortedKeys(versions) {
		fmt.Fprintf(&b, "//   %s\n", versions[k])
	}
	b.WriteString("\npackage azuresim\n\n")
	b.WriteString("// sdkTypes are the request-body model types: their JSON properties with\n")
	b.WriteString("// type, and whether the specification marks them required (r) or\n// read-only (o).\n")
	b.WriteString("var sdkTypes = map[string][]sdkProp{\n")
	sort.Slice(types, func(i, j int) bool { return types[i].key < types[j].key })
	for _, t := range types {
		fmt.Fprintf(&b, "\t%q: {\n", t.key)
		for _, p := range t.props {
			flags := ""
			if p.required {
				flags += "r"
			}
			if p.readOnly {
				flags += "o"
			}
			fmt.Fprintf(&b, "\t\t{%q, %q, %q},\n", p.json, p.typ, flags)
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n\n// sdkEnums are the values of each enum (Possible…Values).\n")
	b.WriteString("var sdkEnums = map[string][]string{\n")
	for _, k := range sortedKeys(enums) {
		fmt.Fprintf(&b, "\t%q: {", k)
		for i, v := range enums[k] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", v)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\n// sdkAPIVersions are the api-versions the SDK's clients send, by resource\n// type.\n")
	b.WriteString("var sdkAPIVersions = map[string][]string{\n")
	for _, k := range sortedKeys(apiVersions) {
		fmt.Fprintf(&b, "\t%q: {", k)
		for i, v := range sortedKeys(apiVersions[k]) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", v)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
