package azuresim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/samber/lo"
)

// ARM's tag rules. Tags are validated by Azure Resource Manager itself, for
// every resource type, on every PUT and PATCH that carries them, before the
// resource provider sees the request; azuresim checks them in its ARM
// middleware for the same reason.
//
// Sources:
//   - "Use tags to organize your Azure resources and management hierarchy",
//     Limitations (MicrosoftDocs/azure-docs,
//     articles/azure-resource-manager/management/tag-resources.md): "Each
//     resource, resource group, and subscription can have a maximum of 50 tag
//     name/value pairs"; "The tag name is limited to 512 characters, and the
//     tag value is limited to 256 characters" (storage accounts: names of
//     128); "Tag names can't contain these characters: <, >, %, &, \, ?, /".
//   - The ARM resource provider contract (Azure/azure-resource-manager-rpc,
//     v1.0/resource-api-reference.md, "tags"): the tag name cannot include
//     '<', '>', '%', '&', '\', '?', '/', "and any control characters".
//   - The error codes and wording ARM answers with, as Azure's own Az.Migrate
//     PowerShell module reproduces them before calling ARM
//     (Azure/azure-powershell, New-AzMigrateServerReplication.ps1) and as a
//     real ARM answer shows in Microsoft's storage account tagging docs
//     ("(InvalidTagNameCharacters) The tag names '…' have reserved characters
//     '<,>,%,&,\,?,/'"): InvalidTags, InvalidTagName,
//     InvalidTagNameCharacters, InvalidTagValueLength, all 400 Bad Request.
const (
	MaxTagsPerResource = 50
	MaxTagNameLength   = 512
	MaxTagValueLength  = 256
)

// tagNameReserved are the characters ARM refuses in tag names.
const tagNameReserved = `<>%&\?/`

// checkRequestTags validates the top-level "tags" of a PUT or PATCH body,
// leaving the body readable for the handler. Bodies that are not JSON
// objects are left to the handler, which answers InvalidRequestContent.
func checkRequestTags(r *http.Request) *ARMError {
	if (r.Method != http.MethodPut && r.Method != http.MethodPatch) || r.Body == nil {
		return nil
	}
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	tags, ok := requestTags(body, readErr == nil && len(body) <= maxBody)
	if !ok {
		// Unreadable, too large or not JSON: the handler refuses the body.
		return nil
	}
	return validateTags(tags)
}

// requestTags are the string tags of a body, and whether there are any to
// check (readable is false for a body that could not be read whole).
func requestTags(body []byte, readable bool) (map[string]string, bool) {
	var doc struct {
		Tags map[string]json.RawMessage `json:"tags"`
	}
	if !readable || json.Unmarshal(body, &doc) != nil || doc.Tags == nil {
		return nil, false
	}
	tags := make(map[string]string, len(doc.Tags))
	for k, raw := range doc.Tags {
		var v *string
		if json.Unmarshal(raw, &v) != nil {
			return nil, false // not a string: the handler's decoding refuses it
		}
		tags[k] = lo.FromPtr(v)
	}
	return tags, true
}

// validateTags applies ARM's tag rules, in the order ARM reports them: the
// count, then empty names, reserved characters, name lengths and value
// lengths, each naming every offending tag.
func validateTags(tags map[string]string) *ARMError {
	if len(tags) > MaxTagsPerResource {
		return armErr(http.StatusBadRequest, "InvalidTags",
			"Too many tags specified. Requested tag count - '%d'. Maximum number of tags allowed - '%d'.", len(tags), MaxTagsPerResource)
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	var reserved, longNames, longValues []string
	for _, k := range names {
		if strings.TrimSpace(k) == "" {
			return armErr(http.StatusBadRequest, "InvalidTagName",
				"The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.")
		}
		if strings.ContainsAny(k, tagNameReserved) || strings.IndexFunc(k, unicode.IsControl) >= 0 {
			reserved = append(reserved, k)
		}
		if utf8.RuneCountInString(k) > MaxTagNameLength {
			longNames = append(longNames, k)
		}
		if utf8.RuneCountInString(tags[k]) > MaxTagValueLength {
			longValues = append(longValues, tags[k])
		}
	}
	switch {
	case len(reserved) > 0:
		return armErr(http.StatusBadRequest, "InvalidTagNameCharacters",
			"The tag names '%s' have reserved characters '<,>,%%,&,\\,?,/' or control characters.", strings.Join(reserved, ", "))
	case len(longNames) > 0:
		return armErr(http.StatusBadRequest, "InvalidTagName",
			"Tag key too large. Following tag name '%s' exceeded the maximum length. Maximum allowed length for tag name - '%d' characters.", strings.Join(longNames, ", "), MaxTagNameLength)
	case len(longValues) > 0:
		return armErr(http.StatusBadRequest, "InvalidTagValueLength",
			"Tag value too large. Following tag value '%s' exceeded the maximum length. Maximum allowed length for tag value - '%d' characters.", strings.Join(longValues, ", "), MaxTagValueLength)
	}
	return nil
}
