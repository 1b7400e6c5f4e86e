package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/paramstore/paramstore/internal/jsonenc"
)

// Marshaled is the JSON text of a value as json.Marshal writes it (an
// operation's response as the API encoded it for its client). In a
// record it is redacted exactly as that value would be: always through
// Redact's rules, which write objects with their members sorted, never
// only compacted as a json.RawMessage without a secret member is.
type Marshaled []byte

// Compact is JSON text known to be valid and to hold no insignificant
// whitespace (a request body that the API has parsed, with no space, tab,
// CR or LF in it). In a record it is redacted as a json.RawMessage is, and
// where a json.RawMessage without a secret member is compacted, it is
// written as is: every read's record was a json.Compact of its request.
type Compact []byte

// The redaction of Redact, streamed: appendCanonical writes the bytes
// that json.Marshal(walk(key, toPlain(raw))) writes, straight from the JSON
// text, without decoding it into maps and encoding them again (that round
// trip was a seventh of a PutParameter's CPU: every write logs its request
// twice, intent and result). An object's members are written sorted by
// name, the last of a repeated name winning, as encoding/json writes a
// map; strings are written as encoding/json writes them (HTML characters
// escaped, invalid UTF-8 replaced); numbers keep their text (json.Number);
// every Value member outside a tag array becomes its HMAC.
// TestCanonicalMatchesRedact and FuzzCanonical compare it with Redact.

// canonMode is what appendValue does to the objects of a value.
type canonMode uint8

const (
	// modeRedact hashes the Value members (walk with inTags false).
	modeRedact canonMode = iota
	// modeTag is modeRedact for an element of a tag array: its own Value
	// member is kept (walk with inTags true).
	modeTag
	// modePlain writes the value canonically without redacting it: the
	// text that hashValue hashes for a Value that is not a string.
	modePlain
)

// canonMember is one member of an object being written.
type canonMember struct {
	name       []byte // decoded
	start, end int    // the value's text in src
}

// canon writes the canonical, redacted form of one JSON text.
type canon struct {
	src   []byte
	key   []byte
	mac   *macState // taken from macPool on the first hash
	depth int       // of the objects and arrays open
}

// maxCanonDepth is encoding/json's nesting limit: deeper text is not
// valid JSON to it.
const maxCanonDepth = 10000

// appendCanonical appends the redacted, canonical encoding of the JSON
// text raw to b, and reports false (with b unchanged) if raw is not one
// valid JSON value: the caller then takes the general path, which says why.
func appendCanonical(b, key, raw []byte) ([]byte, bool) {
	c := canon{src: raw, key: key}
	defer c.release()
	i := skipSpace(raw, 0)
	out, end, ok := c.appendValue(b, i, modeRedact)
	if !ok || skipSpace(raw, end) != len(raw) {
		return b, false
	}
	return out, true
}

func (c *canon) release() {
	if c.mac != nil {
		macPool.Put(c.mac)
		c.mac = nil
	}
}

// appendValue appends the value that starts at src[i] and returns the
// index just past it.
func (c *canon) appendValue(b []byte, i int, mode canonMode) ([]byte, int, bool) {
	src := c.src
	if i >= len(src) {
		return b, i, false
	}
	switch src[i] {
	case '{', '[':
		if c.depth++; c.depth > maxCanonDepth {
			return b, i, false
		}
		var end int
		var ok bool
		if src[i] == '{' {
			b, end, ok = c.appendObject(b, i, mode)
		} else {
			b, end, ok = c.appendArray(b, i, mode)
		}
		c.depth--
		return b, end, ok
	case '"':
		end, plain, ok := scanString(src, i)
		if !ok {
			return b, i, false
		}
		text := src[i:end]
		if plain {
			text = text[1 : len(text)-1]
		}
		b, ok = appendJSONString(b, text, plain)
		return b, end, ok
	default:
		end := skipScalar(src, i)
		if end == i {
			return b, i, false
		}
		return append(b, src[i:end]...), end, true
	}
}

// appendArray writes an array's elements in order. Inside an array, even
// one of a tag array's elements, Value members are hashed again (walk's
// elements take inTags false).
func (c *canon) appendArray(b []byte, i int, mode canonMode) ([]byte, int, bool) {
	if mode == modeTag {
		mode = modeRedact
	}
	b = append(b, '[')
	i = skipSpace(c.src, i+1)
	if i < len(c.src) && c.src[i] == ']' {
		return append(b, ']'), i + 1, true
	}
	for n := 0; ; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, i, ok = c.appendValue(b, i, mode); !ok {
			return b, i, false
		}
		i = skipSpace(c.src, i)
		if i >= len(c.src) {
			return b, i, false
		}
		switch c.src[i] {
		case ',':
			i = skipSpace(c.src, i+1)
		case ']':
			return append(b, ']'), i + 1, true
		default:
			return b, i, false
		}
	}
}

// appendObject writes an object's members sorted by name, one per name
// (the last), redacted as mode says.
func (c *canon) appendObject(b []byte, i int, mode canonMode) ([]byte, int, bool) {
	src := c.src
	var buf [16]canonMember
	members := buf[:0]
	i = skipSpace(src, i+1)
	if i < len(src) && src[i] == '}' {
		i++
	} else {
		for {
			if i >= len(src) || src[i] != '"' {
				return b, i, false
			}
			end, plain, ok := scanString(src, i)
			if !ok {
				return b, i, false
			}
			name := src[i+1 : end-1]
			if !plain {
				if name, ok = decodeString(src[i:end]); !ok {
					return b, i, false
				}
			}
			i = skipSpace(src, end)
			if i >= len(src) || src[i] != ':' {
				return b, i, false
			}
			i = skipSpace(src, i+1)
			vend, ok := skipValue(src, i)
			if !ok {
				return b, i, false
			}
			members = append(members, canonMember{name: name, start: i, end: vend})
			i = skipSpace(src, vend)
			if i >= len(src) {
				return b, i, false
			}
			if src[i] == '}' {
				i++
				break
			}
			if src[i] != ',' {
				return b, i, false
			}
			i = skipSpace(src, i+1)
		}
	}
	// Stable, so that of the members of one name the last stays last.
	slices.SortStableFunc(members, func(x, y canonMember) int { return bytes.Compare(x.name, y.name) })
	b = append(b, '{')
	first := true
	for k, m := range members {
		if k+1 < len(members) && bytes.Equal(members[k+1].name, m.name) {
			// A later member of the same name wins, as in a map; this
			// one must still be valid JSON.
			if !json.Valid(src[m.start:m.end]) {
				return b, i, false
			}
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		var ok bool
		if b, ok = appendJSONString(b, m.name, true); !ok {
			return b, i, false
		}
		b = append(b, ':')
		switch {
		case mode == modeRedact && isSecretMember(m.name):
			b, ok = c.appendHashed(b, m.start, m.end)
		case mode != modePlain && (string(m.name) == "Tags" || string(m.name) == "TagList"):
			// walkTags: an array's elements are tag objects.
			if src[m.start] == '[' {
				b, _, ok = c.appendTagArray(b, m.start)
			} else {
				b, _, ok = c.appendValue(b, m.start, modeRedact)
			}
		case mode == modePlain:
			b, _, ok = c.appendValue(b, m.start, modePlain)
		default:
			b, _, ok = c.appendValue(b, m.start, modeRedact)
		}
		if !ok {
			return b, i, false
		}
	}
	return append(b, '}'), i, true
}

// appendTagArray writes a tag array: each element is walked with inTags.
func (c *canon) appendTagArray(b []byte, i int) ([]byte, int, bool) {
	b = append(b, '[')
	i = skipSpace(c.src, i+1)
	if i < len(c.src) && c.src[i] == ']' {
		return append(b, ']'), i + 1, true
	}
	for n := 0; ; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, i, ok = c.appendValue(b, i, modeTag); !ok {
			return b, i, false
		}
		i = skipSpace(c.src, i)
		if i >= len(c.src) {
			return b, i, false
		}
		switch c.src[i] {
		case ',':
			i = skipSpace(c.src, i+1)
		case ']':
			return append(b, ']'), i + 1, true
		default:
			return b, i, false
		}
	}
}

// appendHashed writes the replacement of a secret member's value
// src[start:end] (hashValue): null stays null, a string is hashed over its
// decoded text, anything else over its canonical encoding.
func (c *canon) appendHashed(b []byte, start, end int) ([]byte, bool) {
	v := c.src[start:end]
	switch v[0] {
	case 'n':
		if string(v) != "null" {
			return b, false
		}
		return append(b, "null"...), true
	case '"':
		_, plain, ok := scanString(c.src, start)
		if !ok {
			return b, false
		}
		text := v[1 : len(v)-1]
		if !plain {
			if text, ok = decodeString(v); !ok {
				return b, false
			}
		}
		return c.appendMAC(b, text), true
	}
	// Encoded canonically after the record's bytes, hashed, then cut off.
	mark := len(b)
	enc, _, ok := c.appendValue(b, start, modePlain)
	if !ok {
		return b, false
	}
	text := slices.Clone(enc[mark:])
	return c.appendMAC(enc[:mark], text), true
}

// appendMAC appends the JSON string of HMAC(key, text).
func (c *canon) appendMAC(b, text []byte) []byte {
	if c.mac == nil {
		c.mac = getMAC(c.key)
	}
	m := c.mac
	m.h.Reset()
	m.h.Write(text)
	sum := m.h.Sum(m.sum[:0])
	b = append(b, '"')
	b = append(b, HMACPrefix...)
	b = hex.AppendEncode(b, sum)
	return append(b, '"')
}

// macState is an HMAC-SHA256 for one key, reused across records.
type macState struct {
	key []byte
	h   hash.Hash
	sum [sha256.Size]byte
}

var macPool sync.Pool

// getMAC returns a pooled HMAC for key.
func getMAC(key []byte) *macState {
	if m, ok := macPool.Get().(*macState); ok && bytes.Equal(m.key, key) {
		return m
	}
	k := slices.Clone(key)
	return &macState{key: k, h: hmac.New(sha256.New, k)}
}

// isSecretMember reports whether a member's decoded name is "Value" in any
// letter case (strings.EqualFold: none of its letters has a fold outside
// ASCII).
func isSecretMember(name []byte) bool {
	return len(name) == len(secretMember) && bytes.EqualFold(name, []byte(secretMember))
}

// appendJSONString appends a string as encoding/json writes it. raw is
// the quoted text from the source, or, when plain, the decoded text
// itself (no quotes, no escapes).
func appendJSONString(b, raw []byte, plain bool) ([]byte, bool) {
	if !plain {
		s, ok := decodeString(raw)
		if !ok {
			return b, false
		}
		raw = s
	}
	for _, ch := range raw {
		if ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&' {
			return jsonenc.AppendString(b, string(raw)), true
		}
	}
	b = append(b, '"')
	b = append(b, raw...)
	return append(b, '"'), true
}

// decodeString returns the text of the quoted JSON string q, as
// encoding/json decodes it.
func decodeString(q []byte) ([]byte, bool) {
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// scanString returns the index past the string that starts at src[i], and
// whether its text needs no decoding: printable ASCII (0x20-0x7e) without
// escapes, or valid UTF-8 without escapes.
func scanString(src []byte, i int) (end int, plain bool, ok bool) {
	plain = true
	ascii := true
	for j := i + 1; j < len(src); j++ {
		switch ch := src[j]; {
		case ch == '"':
			if !ascii && !utf8.Valid(src[i+1:j]) {
				plain = false
			}
			return j + 1, plain, true
		case ch == '\\':
			plain = false
			j++
		case ch < 0x20:
			return 0, false, false
		case ch >= 0x80:
			ascii = false
		}
	}
	return 0, false, false
}

// skipValue returns the index past the value that starts at src[i].
func skipValue(src []byte, i int) (int, bool) {
	if i >= len(src) {
		return i, false
	}
	switch src[i] {
	case '"':
		end, _, ok := scanString(src, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			case '"':
				end, _, ok := scanString(src, j)
				if !ok {
					return j, false
				}
				j = end - 1
			}
		}
		return i, false
	default:
		end := skipScalar(src, i)
		return end, end > i
	}
}

// skipScalar returns the index past the number or literal (true, false,
// null) at src[i], or i itself if there is none: it checks the grammar, as
// the walk takes only valid JSON.
func skipScalar(src []byte, i int) int {
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(src[i:], []byte(lit)) {
			return i + len(lit)
		}
	}
	j := i
	digits := func() bool {
		k := j
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(src) && src[j] == '-' {
		j++
	}
	switch {
	case j < len(src) && src[j] == '0':
		j++
	case !digits():
		return i
	}
	if j < len(src) && src[j] == '.' {
		j++
		if !digits() {
			return i
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		j++
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if !digits() {
			return i
		}
	}
	return j
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}
