package azuresim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// filterExpr is the OData subset Azure's public APIs accept from clients:
// a conjunction of `field eq literal` and `contains(field, 'text')` terms.
type filterExpr struct{ terms []filterTerm }

type filterTerm struct {
	op    string // eq | contains
	field string
	value string // literal rendered as text ('' unescaped, numbers and booleans verbatim)
}

type token struct {
	kind string // ident | string | number | ( | ) | ,
	text string
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{kind: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string literal")
			}
			toks = append(toks, token{kind: "string", text: b.String()})
		case c == '-' || c == '.' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] == '.' || s[j] == 'e' || s[j] == 'E' || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			if _, err := strconv.ParseFloat(s[i:j], 64); err != nil {
				return nil, fmt.Errorf("bad number %q", s[i:j])
			}
			toks = append(toks, token{kind: "number", text: s[i:j]})
			i = j
		case c < 0x80 && (unicode.IsLetter(rune(c)) || c == '_'):
			j := i + 1
			for j < len(s) && s[j] < 0x80 && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '/') {
				j++
			}
			toks = append(toks, token{kind: "ident", text: s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return toks, nil
}

// parseFilter parses the supported OData $filter subset.
func parseFilter(s string) (filterExpr, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return filterExpr{}, err
	}
	var expr filterExpr
	pos := 0
	next := func() (token, bool) {
		if pos >= len(toks) {
			return token{}, false
		}
		pos++
		return toks[pos-1], true
	}
	expect := func(kind string) (token, error) {
		t, ok := next()
		if !ok || t.kind != kind {
			return t, fmt.Errorf("expected %s at token %d", kind, pos)
		}
		return t, nil
	}
	literal := func() (string, error) {
		t, ok := next()
		if !ok {
			return "", fmt.Errorf("missing literal")
		}
		switch {
		case t.kind == "string", t.kind == "number":
			return t.text, nil
		case t.kind == "ident" && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false")):
			return strings.ToLower(t.text), nil
		}
		return "", fmt.Errorf("expected a literal at token %d", pos)
	}
	for {
		t, ok := next()
		if !ok {
			return filterExpr{}, fmt.Errorf("empty term")
		}
		if t.kind != "ident" {
			return filterExpr{}, fmt.Errorf("expected a field or function at token %d", pos)
		}
		if strings.EqualFold(t.text, "contains") {
			if _, err := expect("("); err != nil {
				return filterExpr{}, err
			}
			field, err := expect("ident")
			if err != nil {
				return filterExpr{}, err
			}
			if _, err := expect(","); err != nil {
				return filterExpr{}, err
			}
			v, err := expect("string")
			if err != nil {
				return filterExpr{}, err
			}
			if _, err := expect(")"); err != nil {
				return filterExpr{}, err
			}
			expr.terms = append(expr.terms, filterTerm{op: "contains", field: field.text, value: v.text})
		} else {
			op, err := expect("ident")
			if err != nil || !strings.EqualFold(op.text, "eq") {
				return filterExpr{}, fmt.Errorf("only the eq operator is supported (token %d)", pos)
			}
			v, err := literal()
			if err != nil {
				return filterExpr{}, err
			}
			expr.terms = append(expr.terms, filterTerm{op: "eq", field: t.text, value: v})
		}
		t, ok = next()
		if !ok {
			return expr, nil
		}
		if t.kind != "ident" || !strings.EqualFold(t.text, "and") {
			return filterExpr{}, fmt.Errorf("only 'and' joins terms (token %d)", pos)
		}
	}
}

// match evaluates the filter against a record's fields (lower-cased names).
// Values compare case-sensitively, as the Retail Prices API does.
func (e filterExpr) match(get func(field string) (string, bool)) bool {
	for _, t := range e.terms {
		v, ok := get(strings.ToLower(t.field))
		if !ok {
			return false
		}
		switch t.op {
		case "eq":
			if v != t.value {
				if a, err1 := strconv.ParseFloat(v, 64); err1 == nil {
					if b, err2 := strconv.ParseFloat(t.value, 64); err2 == nil && a == b {
						continue
					}
				}
				return false
			}
		case "contains":
			if !strings.Contains(v, t.value) {
				return false
			}
		}
	}
	return true
}
