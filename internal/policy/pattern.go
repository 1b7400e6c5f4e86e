package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of one element of a compiled pattern.
type tokKind uint8

const (
	tokLit  tokKind = iota // literal text, compared byte for byte
	tokStar                // '*': any run of characters, possibly empty
	tokOne                 // '?': exactly one character
	tokVar                 // ${key} or ${key, 'default'}: resolved from the request context
)

// tok is one element of a compiled pattern. For tokVar, s is the context key
// as written, lower its lower-case form, and def the default value when
// hasDef is set.
type tok struct {
	kind   tokKind
	hasDef bool
	s      string
	lower  string
	def    string
}

// pattern is a compiled Resource, Action or condition value.
//
// A "character" is one unit of utf8.DecodeRuneInString: a valid UTF-8
// sequence, or a single byte of an invalid one. '*' and '?' always consume
// whole characters.
type pattern struct {
	toks   []tok
	hasVar bool
	// lit is set when the pattern is a plain literal (no wildcard, no
	// variable); the text is then toks[0].s or "" when toks is empty.
	lit bool
	// any is set when the pattern is exactly "*".
	any bool
	// fold is set when literals are lower case and compared with ASCII
	// case folding.
	fold bool
}

// compileOptions say how the text of a pattern is read.
type compileOptions struct {
	wildcards bool // '*' and '?' are wildcards (otherwise literal)
	variables bool // ${...} is a policy variable (Version 2012-10-17)
	fold      bool // lower-case literal text (case-insensitive matching)
}

// compilePattern compiles s. It fails only on malformed policy variables.
func compilePattern(s string, o compileOptions) (pattern, error) {
	p := pattern{fold: o.fold}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t := lit.String()
			if o.fold {
				t = lowerASCII(t)
			}
			p.toks = append(p.toks, tok{kind: tokLit, s: t})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case o.wildcards && c == '*':
			flush()
			p.toks = append(p.toks, tok{kind: tokStar})
			i++
		case o.wildcards && c == '?':
			flush()
			p.toks = append(p.toks, tok{kind: tokOne})
			i++
		case o.variables && c == '$' && i+1 < len(s) && s[i+1] == '{':
			body, n, err := scanVariable(s[i:])
			if err != nil {
				return pattern{}, err
			}
			i += n
			switch body {
			case "*", "?", "$":
				lit.WriteString(body)
				continue
			}
			t, err := parseVariable(body)
			if err != nil {
				return pattern{}, err
			}
			flush()
			p.toks = append(p.toks, t)
			p.hasVar = true
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	p.lit = len(p.toks) == 0 || (len(p.toks) == 1 && p.toks[0].kind == tokLit)
	p.any = len(p.toks) == 1 && p.toks[0].kind == tokStar
	return p, nil
}

// scanVariable reads "${...}" at the start of s, honouring single-quoted
// defaults in which a doubled quote stands for one. It returns the text between the
// braces and the length consumed.
func scanVariable(s string) (body string, n int, err error) {
	inQuote := false
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			if inQuote && i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			inQuote = !inQuote
		case c == '}' && !inQuote:
			return s[2:i], i + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unterminated policy variable in %q", s)
}

// parseVariable parses the body of "${key}" or "${key, 'default'}".
func parseVariable(body string) (tok, error) {
	key, def, hasDef := strings.Cut(body, ",")
	key = strings.TrimSpace(key)
	if !validKey(key) {
		return tok{}, fmt.Errorf("invalid policy variable ${%s}", body)
	}
	t := tok{kind: tokVar, s: key, lower: strings.ToLower(key)}
	if hasDef {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return tok{}, fmt.Errorf("invalid policy variable ${%s}: default value must be in single quotes", body)
		}
		inner := def[1 : len(def)-1]
		// Every quote inside must be doubled.
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\'' {
				if i+1 >= len(inner) || inner[i+1] != '\'' {
					return tok{}, fmt.Errorf("invalid policy variable ${%s}: quote in default value must be doubled", body)
				}
				i++
			}
		}
		t.hasDef = true
		t.def = strings.ReplaceAll(inner, "''", "'")
	}
	return t, nil
}

// validKey reports whether k looks like a condition key: "prefix:name" with a
// non-empty prefix of letters, digits and hyphens, and a name without spaces,
// braces or wildcards.
func validKey(k string) bool {
	prefix, name, ok := strings.Cut(k, ":")
	if !ok || prefix == "" || name == "" {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	for _, r := range name {
		switch {
		case r <= ' ', r == 0x7f, r == utf8.RuneError, r == '{', r == '}', r == '$', r == '\'', r == '*', r == '?', r == ',':
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// maxStackToks is how many tokens a pattern with variables may have before
// resolving it allocates.
const maxStackToks = 16

// match reports whether s matches p, resolving variables from ctx. A
// variable that cannot be resolved makes the pattern match nothing.
func (p *pattern) match(s string, ctx map[string][]string) bool {
	if p.any {
		return true
	}
	if p.lit {
		if len(p.toks) == 0 {
			return s == ""
		}
		return len(s) == len(p.toks[0].s) && hasPrefix(s, p.toks[0].s, p.fold)
	}
	if !p.hasVar {
		return matchToks(p.toks, s, p.fold)
	}
	var buf [maxStackToks]tok
	toks, ok := resolve(buf[:0], p.toks, ctx)
	if !ok {
		return false
	}
	return matchToks(toks, s, p.fold)
}

// resolve appends toks to dst with every variable replaced by a literal.
func resolve(dst, toks []tok, ctx map[string][]string) ([]tok, bool) {
	for _, t := range toks {
		if t.kind == tokVar {
			v, ok := resolveVar(t, ctx)
			if !ok {
				return nil, false
			}
			t = tok{kind: tokLit, s: v}
		}
		dst = append(dst, t)
	}
	return dst, true
}

// resolveVar returns the value of a variable: the single value of its key in
// ctx, else its default. Missing and multi-valued keys without a default do
// not resolve.
func resolveVar(t tok, ctx map[string][]string) (string, bool) {
	if vs, ok := lookup(ctx, t.s, t.lower); ok && len(vs) == 1 {
		return vs[0], true
	}
	if t.hasDef {
		return t.def, true
	}
	return "", false
}

// expand returns p's text with variables resolved, for operators that need
// the whole value rather than a match. Wildcard tokens are not expected.
func (p *pattern) expand(ctx map[string][]string) (string, bool) {
	if p.lit {
		if len(p.toks) == 0 {
			return "", true
		}
		return p.toks[0].s, true
	}
	var b strings.Builder
	for _, t := range p.toks {
		switch t.kind {
		case tokLit:
			b.WriteString(t.s)
		case tokVar:
			v, ok := resolveVar(t, ctx)
			if !ok {
				return "", false
			}
			b.WriteString(v)
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		}
	}
	return b.String(), true
}

// lookup finds key in ctx case-insensitively: first as given, then in lower
// case, then by scanning. If ctx holds two keys that differ only in case,
// which one wins is unspecified.
func lookup(ctx map[string][]string, key, lower string) ([]string, bool) {
	if ctx == nil {
		return nil, false
	}
	if v, ok := ctx[key]; ok {
		return v, true
	}
	if v, ok := ctx[lower]; ok {
		return v, true
	}
	for k, v := range ctx {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// matchGlob reports whether s matches the glob g, in which '*' matches any
// run of characters and '?' exactly one; everything else is literal.
func matchGlob(g, s string) bool {
	p, _ := compilePattern(g, compileOptions{wildcards: true})
	return p.match(s, nil)
}

// lowerASCII lower-cases the ASCII letters of s.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// hasPrefix is strings.HasPrefix, optionally folding ASCII letters of s
// (prefix must then be lower case).
func hasPrefix(s, prefix string, fold bool) bool {
	if !fold {
		return strings.HasPrefix(s, prefix)
	}
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// index is strings.Index, optionally folding as hasPrefix does.
func index(s, sub string, fold bool) int {
	if !fold {
		return strings.Index(s, sub)
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if hasPrefix(s[i:], sub, true) {
			return i
		}
	}
	return -1
}

// matchToks matches s against toks, which hold no variables.
//
// The pattern is cut at each '*' into segments of fixed character length.
// The first segment must match at the start and the last at the end; each
// middle segment is matched at its leftmost position, which is optimal, so
// no backtracking is needed.
func matchToks(toks []tok, s string, fold bool) bool {
	star := -1
	for i, t := range toks {
		if t.kind == tokStar {
			star = i
			break
		}
	}
	if star < 0 {
		end, ok := matchSeg(toks, s, 0, fold)
		return ok && end == len(s)
	}
	cur, ok := matchSeg(toks[:star], s, 0, fold)
	if !ok {
		return false
	}
	rest := toks[star+1:]
	for {
		next := -1
		for i, t := range rest {
			if t.kind == tokStar {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		if next > 0 {
			cur, ok = findSeg(rest[:next], s, cur, fold)
			if !ok {
				return false
			}
		}
		rest = rest[next+1:]
	}
	return matchTail(rest, s, cur, fold)
}

// matchTail reports whether seg matches a suffix of s starting at or after
// the character boundary cur.
func matchTail(seg []tok, s string, cur int, fold bool) bool {
	if lastLit(seg) {
		n := 0
		for _, t := range seg {
			n += len(t.s)
		}
		start := len(s) - n
		if start < cur || !isBoundary(s, cur, start) {
			return false
		}
		end, ok := matchSeg(seg, s, start, fold)
		return ok && end == len(s)
	}
	for p := cur; ; p += charWidth(s, p) {
		if end, ok := matchSeg(seg, s, p, fold); ok && end == len(s) {
			return true
		}
		if p >= len(s) {
			return false
		}
	}
}

// lastLit reports whether seg is made of literals only.
func lastLit(seg []tok) bool {
	for _, t := range seg {
		if t.kind != tokLit {
			return false
		}
	}
	return true
}

// findSeg finds the leftmost character boundary p >= cur at which seg
// matches and returns the end of that match.
func findSeg(seg []tok, s string, cur int, fold bool) (int, bool) {
	if first := seg[0]; first.kind == tokLit && first.s != "" {
		for from := cur; from <= len(s); {
			i := index(s[from:], first.s, fold)
			if i < 0 {
				return 0, false
			}
			p := from + i
			if isBoundary(s, cur, p) {
				if end, ok := matchSeg(seg, s, p, fold); ok {
					return end, true
				}
			}
			from = p + 1
		}
		return 0, false
	}
	for p := cur; ; p += charWidth(s, p) {
		if end, ok := matchSeg(seg, s, p, fold); ok {
			return end, true
		}
		if p >= len(s) {
			return 0, false
		}
	}
}

// matchSeg matches the star-free seg at the character boundary i of s and
// returns where the match ends.
func matchSeg(seg []tok, s string, i int, fold bool) (int, bool) {
	for _, t := range seg {
		switch t.kind {
		case tokLit:
			if !hasPrefix(s[i:], t.s, fold) {
				return 0, false
			}
			p := i + len(t.s)
			if !isBoundary(s, i, p) {
				return 0, false
			}
			i = p
		case tokOne:
			if i >= len(s) {
				return 0, false
			}
			i += charWidth(s, i)
		default:
			return 0, false
		}
	}
	return i, true
}

// charWidth is the width of the character at s[i].
func charWidth(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, w := utf8.DecodeRuneInString(s[i:])
	return w
}

// isBoundary reports whether p is a character boundary of s, given that
// from <= p is one.
func isBoundary(s string, from, p int) bool {
	if p >= len(s) || utf8.RuneStart(s[p]) {
		return true
	}
	for from < p {
		from += charWidth(s, from)
	}
	return from == p
}
