package sigv4

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseAuthorization checks that parsing never panics and that any
// header it accepts in full round-trips its parts.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AK/20240115/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab12",
		"AWS4-HMAC-SHA256 Signature=a,SignedHeaders=b,Credential=c",
		"AWS4-HMAC-SHA256   Credential= x ,  , =, Signature==",
		"Bearer token",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if err.Code != CodeIncompleteSignature {
				t.Fatalf("parseAuthorization(%q): code %s", h, err.Code)
			}
			return
		}
		if a.Credential == "" || a.SignedHeaders == "" || a.Signature == "" {
			return
		}
		again, err := parseAuthorization(a.String())
		if err != nil || again != a {
			t.Fatalf("round trip of %q: got %+v, %v; want %+v", h, again, err, a)
		}

		// The whole request parse must not panic either.
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Host: "h", Header: http.Header{}}
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", "20240115T120000Z")
		_, _ = parseRequest(r)
	})
}

// FuzzCanonicalRequest checks that canonicalisation and a whole
// verification never panic on arbitrary paths, queries and header values.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("/", "", "application/x-amz-json-1.1", "host;content-type", "{}")
	f.Add("/a%20b/../c//d/", "b=2&a=x%20y&a=1&%zz=%", "  a   b  ", "Host;X-Custom;content-length", "")
	f.Add("/%", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b/c/d/e&X-Amz-Signature=00&X-Amz-SignedHeaders=host&X-Amz-Date=20240115T120000Z&X-Amz-Expires=9",
		"v", "host", "x")
	f.Fuzz(func(t *testing.T, path, query, value, signed, body string) {
		u := &url.URL{Path: path, RawPath: path, RawQuery: query}
		r := &http.Request{Method: http.MethodPost, URL: u, Host: "127.0.0.1:4566", Header: http.Header{}, ContentLength: int64(len(body))}
		r.Header.Set("X-Custom", value)
		r.Header.Add("X-Custom", value)
		r.Header["content-type"] = []string{value}
		names := strings.Split(signed, ";")
		if got, want := canonicalHeaders(r, names), referenceCanonicalHeaders(r, names); got != want {
			t.Fatalf("canonicalHeaders(%q):\n got %q\nwant %q", signed, got, want)
		}
		for _, uri := range canonicalURIs(r) {
			if !wellEncoded(uri) {
				t.Fatalf("canonical URI %q of %q is not strictly encoded", uri, path)
			}
			_ = buildCanonicalRequest(r.Method, uri, canonicalQuery(query, true), canonicalHeaders(r, names), signed, hexSHA256([]byte(body)))
		}
		for pair := range strings.SplitSeq(canonicalQuery(query, false), "&") {
			k, v, _ := strings.Cut(pair, "=")
			if !wellEncoded(k) || !wellEncoded(v) || strings.Contains(pair, "/") {
				t.Fatalf("canonical query pair %q of %q is not strictly encoded", pair, query)
			}
		}

		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20240115/us-east-1/ssm/aws4_request, SignedHeaders="+signed+", Signature="+value)
		r.Header.Set("X-Amz-Date", "20240115T120000Z")
		v := newTestVerifier(t, signTime)
		if res, err := v.Verify(r, []byte(body)); err == nil {
			t.Fatalf("Verify accepted a made-up signature: %+v", res)
		}
		r.Header.Del("Authorization")
		_, _ = v.Verify(r, []byte(body))
	})
}

// wellEncoded reports whether s holds only unreserved characters, "/" and
// "%XX" escapes with uppercase hex.
func wellEncoded(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case unreserved(c) || c == '/':
		case c == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// referenceCanonicalHeaders is canonicalHeaders as first written, with
// strings (appendCanonicalHeaders builds it in a buffer since): the fuzzer
// checks that the two agree.
func referenceCanonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		lower := strings.ToLower(name)
		b.WriteString(lower)
		b.WriteByte(':')
		var vals []string
		switch lower {
		case "host":
			vals = []string{r.Host}
			if r.Host == "" {
				vals = []string{r.URL.Host}
			}
		case "content-length":
			if vals = r.Header.Values("Content-Length"); len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			if vals = r.Header.Values("Transfer-Encoding"); len(vals) == 0 && len(r.TransferEncoding) > 0 {
				vals = []string{strings.Join(r.TransferEncoding, ",")}
			}
		default:
			if vals = r.Header.Values(lower); len(vals) == 0 {
				for k, v := range r.Header {
					if strings.EqualFold(k, lower) {
						vals = append(vals, v...)
					}
				}
			}
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			v = strings.Trim(v, " \t")
			for strings.Contains(v, "  ") {
				v = strings.ReplaceAll(v, "  ", " ")
			}
			b.WriteString(v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
