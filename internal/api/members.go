package api

import (
	"bytes"
	"encoding/json"
	"strings"
)

// repeatedMember reports whether an object of the JSON text b, which must
// be valid JSON, holds two member names that are equal ignoring case
// (after unescaping). encoding/json matches member names
// case-insensitively and lets the last one win, so such a body runs with
// one value while its audit record shows another one first
// ({"Name":"/harmless","name":"/prod/secret"} reads /prod/secret); AWS,
// which matches names exactly, would run the first.
//
// It scans the bytes without allocating; objects with many members or
// escaped names go through repeatedMemberSlow.
func repeatedMember(b []byte) bool {
	type span struct{ start, end int }
	var keyBuf [32]span
	var objBuf [16]int // per open object or array: index of its first key; -1 for arrays
	keys, objs := keyBuf[:0], objBuf[:0]
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			objs = append(objs, len(keys))
			expectKey = true
		case '[':
			objs = append(objs, -1)
			expectKey = false
		case '}', ']':
			if first := objs[len(objs)-1]; first >= 0 {
				keys = keys[:first]
			}
			objs = objs[:len(objs)-1]
			expectKey = false
		case ',':
			expectKey = objs[len(objs)-1] >= 0
		case '"':
			j := i + 1
			escaped := false
			for ; b[j] != '"'; j++ {
				if b[j] == '\\' {
					escaped = true
					j++
				}
			}
			if expectKey {
				first := objs[len(objs)-1]
				if escaped || len(keys)-first >= 16 {
					return repeatedMemberSlow(b)
				}
				name := b[i+1 : j]
				for _, k := range keys[first:] {
					if bytes.EqualFold(b[k.start:k.end], name) {
						return true
					}
				}
				keys = append(keys, span{i + 1, j})
				expectKey = false
			}
			i = j
		}
	}
	return false
}

// repeatedMemberSlow is repeatedMember with the names unescaped by
// encoding/json and kept in a set per object.
func repeatedMemberSlow(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		names   map[string]bool // nil for an array
		wantKey bool            // the next token of this object is a name or '}'
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false // io.EOF: b is valid JSON
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{names: map[string]bool{}, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default: // '}' or ']' closes top, the value of a member if its parent is an object
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].names != nil {
					stack[len(stack)-1].wantKey = true
				}
			}
			continue
		}
		if top == nil || top.names == nil {
			continue // a scalar at the top or in an array
		}
		if top.wantKey {
			name := foldName(tok.(string))
			if top.names[name] {
				return true
			}
			top.names[name] = true
			top.wantKey = false
		} else {
			top.wantKey = true // a scalar member value was read
		}
	}
}

// foldName maps names that bytes.EqualFold finds equal to one string.
func foldName(s string) string { return strings.ToLower(strings.ToUpper(s)) }
