package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// HMACPrefix starts every redacted value.
const HMACPrefix = "hmac-sha256:"

// secretMember is the name of the members whose values Redact hides.
const secretMember = "Value"

// tagArrays name the arrays whose elements' Value members are tag values,
// which are not secret.
var tagArrays = map[string]bool{"Tags": true, "TagList": true}

// unencodable replaces a value that Redact cannot encode as JSON.
const unencodable = "[unencodable value removed]"

// Hidden replaces the value of every member that KeepOnly does not keep,
// and an error message that would reveal a hidden value. It is the marker
// CloudTrail writes in place of sensitive values.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// Allowlist names the members whose values a default-deny record keeps
// (see KeepOnly). Names match in any letter case, as encoding/json matches
// them when it decodes a request. The zero value keeps nothing.
type Allowlist struct {
	names map[string]bool // lower case
}

// NewAllowlist returns the allowlist of names.
func NewAllowlist(names ...string) *Allowlist {
	a := &Allowlist{names: make(map[string]bool, len(names))}
	for _, n := range names {
		a.names[strings.ToLower(n)] = true
	}
	return a
}

// Has reports whether name is on the list.
func (a *Allowlist) Has(name string) bool {
	if a == nil {
		return false
	}
	return a.names[strings.ToLower(name)]
}

// KeepOnly returns a copy of v, as plain JSON values, in which a member
// keeps its value only if its name, and the name of every member that
// encloses it, is on keep. Every other member's value is replaced with
// Hidden (a null stays null); so is v itself unless it is an object. Like
// Redact, it never returns its input when v cannot be encoded.
func KeepOnly(keep *Allowlist, v any) any {
	plain, err := toPlain(v)
	if err != nil {
		return unencodable
	}
	return keepOnly(keep, plain, nil)
}

// keepOnly is KeepOnly on a plain value; hidden, if not nil, collects the
// text of the strings it hides.
func keepOnly(keep *Allowlist, v any, hidden *[]string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return hide(v, hidden)
	}
	out := make(map[string]any, len(m))
	for name, mv := range m {
		if keep.Has(name) {
			out[name] = keepValue(keep, mv, hidden)
		} else {
			out[name] = hide(mv, hidden)
		}
	}
	return out
}

// keepValue returns the value of a kept member: scalars as they are,
// objects filtered by keepOnly, arrays element by element.
func keepValue(keep *Allowlist, v any, hidden *[]string) any {
	switch v := v.(type) {
	case map[string]any:
		return keepOnly(keep, v, hidden)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = keepValue(keep, e, hidden)
		}
		return out
	default:
		return v
	}
}

// hide returns the replacement of a value that is not kept, after adding
// the strings inside it to hidden.
func hide(v any, hidden *[]string) any {
	if v == nil {
		return nil
	}
	if hidden != nil {
		collectStrings(v, hidden)
	}
	return Hidden
}

// collectStrings appends every string inside v to out.
func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case json.Number:
		*out = append(*out, v.String())
	case map[string]any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	}
}

// HMAC returns "hmac-sha256:" + hex(HMAC-SHA256(key, value)).
func HMAC(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return HMACPrefix + hex.EncodeToString(m.Sum(nil))
}

// Redact returns a copy of v, as plain JSON values (map[string]any, []any,
// string, json.Number, bool, nil), in which the value of every member named
// "Value" in any letter case (encoding/json, which decodes requests,
// matches member names case-insensitively), at any depth, is replaced with HMAC(key, value). The
// Value members of objects directly inside an array named "Tags" or
// "TagList" are tag values and are kept. A Value that is not a string is
// hashed over its JSON encoding; a null Value stays null.
//
// v may be anything encoding/json encodes: maps, slices, structs or a
// json.RawMessage; it is not modified. If v cannot be encoded (or a
// json.RawMessage is not valid JSON), Redact returns a placeholder string
// instead, never the input.
func Redact(key []byte, v any) any {
	out, err := redact(key, v, nil)
	if err != nil {
		return unencodable
	}
	return out
}

// redact is Redact with the encoding error returned; hidden, if not nil,
// collects the text of the values it hides.
func redact(key []byte, v any, hidden *[]string) (any, error) {
	plain, err := toPlain(v)
	if err != nil {
		return nil, err
	}
	return walk(key, plain, false, hidden), nil
}

// toPlain converts v into plain JSON values, decoding numbers as
// json.Number so that they are written back exactly.
func toPlain(v any) (any, error) {
	var raw []byte
	switch v := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		raw = v
	case Compact:
		raw = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: trailing data")
	}
	return out, nil
}

// appendRedacted appends the redacted JSON encoding of v, compact, for a
// record: "null" for nil. With keep, v goes through keepOnly. Otherwise a
// json.RawMessage with no member that could be a secret (no "value" in any
// letter case, no escape sequence that could spell one) is only compacted,
// and anything else is redacted by Redact's rules: streamed from its JSON
// text by appendCanonical (canon.go), or, when hidden is not nil (a record
// with an error message, whose hidden values must be collected), or
// when appendCanonical refuses the text, through Redact's walk. hidden,
// if not nil, collects the text of the values hidden.
func appendRedacted(b []byte, key []byte, v any, keep *Allowlist, hidden *[]string) ([]byte, error) {
	var text []byte // v's JSON text, for appendCanonical
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case json.RawMessage:
		if keep == nil && !mayHoldSecret(v) {
			buf := bytes.NewBuffer(b)
			if err := json.Compact(buf, v); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return buf.Bytes(), nil
		}
		text = v
	case Compact:
		if keep == nil && !mayHoldSecret(v) {
			// Valid and compact already: what json.Compact would write.
			return append(b, v...), nil
		}
		text = v
	case Marshaled:
		text = v
	default:
		if keep == nil && hidden == nil {
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			text = raw
		}
	}
	if keep == nil && hidden == nil && text != nil {
		if out, ok := appendCanonical(b, key, text); ok {
			return out, nil
		}
	}
	switch m := v.(type) {
	case Marshaled:
		v = json.RawMessage(m)
	case Compact:
		v = json.RawMessage(m)
	}
	var out any
	if keep != nil {
		plain, err := toPlain(v)
		if err != nil {
			return nil, err
		}
		out = keepOnly(keep, plain, hidden)
	} else {
		var err error
		if out, err = redact(key, v, hidden); err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// mayHoldSecret reports whether raw JSON could have a member that walk
// redacts: encoding/json matches member names case-insensitively, so a
// request body's "value" is a Value too, and an escape (\u0056alue) could
// spell one.
func mayHoldSecret(raw []byte) bool {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return true
	}
	for i := 0; i+len(secretMember) <= len(raw); i++ {
		if raw[i]|0x20 == 'v' && bytes.EqualFold(raw[i:i+len(secretMember)], []byte(secretMember)) {
			return true
		}
	}
	return false
}

// walk returns a redacted copy of the plain value v. inTags says that v is
// an element of a tag array, whose own Value member is kept. hidden, if not
// nil, collects the text of the values replaced.
func walk(key []byte, v any, inTags bool, hidden *[]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for name, m := range v {
			switch {
			case strings.EqualFold(name, secretMember) && !inTags:
				out[name] = hashValue(key, m, hidden)
			case tagArrays[name]:
				out[name] = walkTags(key, m, hidden)
			default:
				out[name] = walk(key, m, false, hidden)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = walk(key, e, false, hidden)
		}
		return out
	default:
		return v
	}
}

// walkTags redacts the value of a Tags or TagList member.
func walkTags(key []byte, v any, hidden *[]string) any {
	arr, ok := v.([]any)
	if !ok {
		return walk(key, v, false, hidden)
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		out[i] = walk(key, e, true, hidden)
	}
	return out
}

// hashValue returns the replacement for a secret member's value.
func hashValue(key []byte, v any, hidden *[]string) any {
	if v != nil && hidden != nil {
		collectStrings(v, hidden)
	}
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return HMAC(key, v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return unencodable
		}
		return HMAC(key, string(b))
	}
}
