// Package jsonenc appends JSON by hand for the encoders of the hot paths
// (the GetParameter response, the audit record), byte for byte as
// encoding/json writes it, without reflection.
package jsonenc

import (
	"encoding/json"
	"strconv"
)

// AppendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters, U+2028 and U+2029 included). Plain
// printable ASCII, the common case, is copied as is; anything else is
// left to encoding/json.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendMember appends prefix (such as `,"name":`) and s as a JSON string.
func AppendMember(b []byte, prefix, s string) []byte {
	return AppendString(append(b, prefix...), s)
}

// AppendOptional is AppendMember for an omitempty member: nothing when s
// is empty.
func AppendOptional(b []byte, prefix, s string) []byte {
	if s == "" {
		return b
	}
	return AppendMember(b, prefix, s)
}

// AppendInt appends prefix and n.
func AppendInt(b []byte, prefix string, n int64) []byte {
	return strconv.AppendInt(append(b, prefix...), n, 10)
}
