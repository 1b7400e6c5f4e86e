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
	if method == "" {
		method = http.MethodGet
	}
	return method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + signedHeaders + "\n" + payloadHash
}

// canonicalURIs returns the canonical URI of r as the AWS SDKs compute it
// (the path as sent, each segment encoded again) and, when it differs, the
// form botocore signs, whose path has dot segments and empty segments
// removed first.
func canonicalURIs(r *http.Request) []string {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	uris := []string{encodePath(p)}
	if n := normalizePath(p); n != p {
		uris = append(uris, encodePath(n))
	}
	return uris
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
	var b strings.Builder
	for _, name := range names {
		lower := strings.ToLower(name)
		b.WriteString(lower)
		b.WriteByte(':')
		for i, v := range headerValues(r, lower) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// headerValues returns the values of the header named lower (lowercase).
func headerValues(r *http.Request, lower string) []string {
	switch lower {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if v := r.Header.Values("Transfer-Encoding"); len(v) > 0 {
			return v
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
		return nil
	}
	if v := r.Header.Values(lower); len(v) > 0 {
		return v
	}
	// Keys set directly in the map need not be canonical.
	var vals []string
	for k, v := range r.Header {
		if strings.EqualFold(k, lower) {
			vals = append(vals, v...)
		}
	}
	return vals
}

// trimAll trims leading and trailing whitespace and collapses each run of
// spaces inside v to one space.
func trimAll(v string) string {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
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
		b.WriteByte(v[i])
	}
	return b.String()
}
