package sigv4

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// buildCanonicalRequest joins the six lines of a SigV4 canonical request.
// headers already ends with a newline per header.
func buildCanonicalRequest(method, uri, query, headers, signedHeaders, payloadHash string) string {
	return string(appendCanonicalRequest(nil, method, uri, query, []byte(headers), signedHeaders, []byte(payloadHash)))
}

// appendCanonicalRequest appends what buildCanonicalRequest returns.
func appendCanonicalRequest(b []byte, method, uri, query string, headers []byte, signedHeaders string, payloadHash []byte) []byte {
	if method == "" {
		method = http.MethodGet
	}
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, uri...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	b = append(b, headers...)
	b = append(b, '\n')
	b = append(b, signedHeaders...)
	b = append(b, '\n')
	return append(b, payloadHash...)
}

// canonicalURIs returns the canonical URI of r as the AWS SDKs compute it
// (the path as sent, each segment encoded again) and, when it differs, the
// form botocore signs, whose path has dot segments and empty segments
// removed first.
func canonicalURIs(r *http.Request) []string {
	uri, alt := canonicalURI(r)
	if alt == "" {
		return []string{uri}
	}
	return []string{uri, alt}
}

// canonicalURI returns the canonical URIs of canonicalURIs: the second is
// "" when botocore's form is the same.
func canonicalURI(r *http.Request) (uri, alt string) {
	p := r.URL.EscapedPath()
	if p == "" || p == "/" {
		// Every SDK posts the JSON protocol to "/".
		return "/", ""
	}
	if n := normalizePath(p); n != p {
		return encodePath(p), encodePath(n)
	}
	return encodePath(p), ""
}

// encodePath percent-encodes every byte of p outside the RFC 3986
// unreserved set, keeping "/".
func encodePath(p string) string {
	return encode(p, true)
}

// encode percent-encodes s with uppercase hex, keeping A-Z a-z 0-9 - _ . ~
// and, if keepSlash, "/".
func encode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && !(keepSlash && s[i] == '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// normalizePath removes "." and ".." segments and repeated slashes, as
// botocore does before signing (RFC 3986 §5.2.4 plus slash folding).
func normalizePath(p string) string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	var first, last string
	if strings.HasPrefix(p, "/") {
		first = "/"
	}
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		last = "/"
	}
	if n := first + strings.Join(out, "/") + last; n != "" {
		return n
	}
	return "/"
}

// canonicalQuery builds the canonical query string from a raw query: each
// name and value decoded ("+" is a space) and encoded again strictly, pairs
// sorted by encoded name then value. Presigned requests leave out
// X-Amz-Signature.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for s := range strings.SplitSeq(raw, "&") {
		if s == "" {
			continue
		}
		k, v, _ := strings.Cut(s, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{encode(k, false), encode(v, false)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// unescapeQuery decodes a query component, keeping it as sent if it is not
// a valid encoding.
func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// canonicalHeaders renders the signed headers of r in the order given:
// "name:value\n" with the name lowercased, each value trimmed with runs of
// spaces collapsed, and repeated headers joined with ",". Host,
// Content-Length and Transfer-Encoding, which net/http moves out of
// r.Header, are rebuilt from r.
func canonicalHeaders(r *http.Request, names []string) string {
	return string(appendCanonicalHeaders(nil, r, names))
}

// appendCanonicalHeaders appends what canonicalHeaders returns.
func appendCanonicalHeaders(b []byte, r *http.Request, names []string) []byte {
	for _, name := range names {
		start := len(b)
		b = appendLower(b, name)
		lower := b[start:]
		b = append(b, ':')
		b = appendHeaderValues(b, r, lower)
		b = append(b, '\n')
	}
	return b
}

// appendLower appends strings.ToLower(s), without allocating for ASCII.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// appendHeaderValues appends the values of the header named lower
// (lowercase), each trimmed (trimAll), joined with ",".
func appendHeaderValues(b []byte, r *http.Request, lower []byte) []byte {
	switch string(lower) {
	case "host":
		if r.Host != "" {
			return appendTrimAll(b, r.Host)
		}
		return appendTrimAll(b, r.URL.Host)
	case "content-length":
		if v := r.Header["Content-Length"]; len(v) > 0 {
			return appendJoined(b, v)
		}
		if r.ContentLength >= 0 {
			return strconv.AppendInt(b, r.ContentLength, 10)
		}
		return b
	case "transfer-encoding":
		if v := r.Header["Transfer-Encoding"]; len(v) > 0 {
			return appendJoined(b, v)
		}
		if len(r.TransferEncoding) > 0 {
			return appendTrimAll(b, strings.Join(r.TransferEncoding, ","))
		}
		return b
	}
	key, ok := canonicalKeys[string(lower)]
	if !ok {
		key = http.CanonicalHeaderKey(string(lower))
	}
	if v := r.Header[key]; len(v) > 0 {
		return appendJoined(b, v)
	}
	// Keys set directly in the map need not be canonical.
	first := true
	for k, vs := range r.Header {
		if !strings.EqualFold(k, string(lower)) {
			continue
		}
		for _, v := range vs {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendTrimAll(b, v)
		}
	}
	return b
}

// canonicalKeys are the canonical forms of the headers the SDKs sign, so
// that looking them up allocates nothing.
var canonicalKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Content-Type", "X-Amz-Date", "X-Amz-Target", "X-Amz-Security-Token",
		"X-Amz-Content-Sha256", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "User-Agent", "X-Amz-User-Agent",
		"Accept-Encoding", "Date", "Content-Md5"} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// appendJoined appends vs trimmed (trimAll) and joined with ",".
func appendJoined(b []byte, vs []string) []byte {
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimAll(b, v)
	}
	return b
}

// trimAll trims leading and trailing whitespace and collapses each run of
// spaces inside v to one space.
func trimAll(v string) string {
	return string(appendTrimAll(nil, v))
}

// appendTrimAll appends what trimAll returns.
func appendTrimAll(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, v[i])
	}
	return b
}
