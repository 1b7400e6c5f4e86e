package sigv4

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// auth is the authentication information of one request, from either the
// Authorization header or presigned query parameters.
type auth struct {
	presigned bool

	credential                                     string
	accessKeyID, date, region, service, terminator string
	signedHeadersRaw                               string
	signedHeaders                                  []string
	signature                                      string
	rawDate                                        string // X-Amz-Date (or Date) exactly as sent
	// amzDate is rawDate when it is an X-Amz-Date, which parseAmzDate
	// accepts only in the form appendAmzDate writes back: the request
	// time as the scope check and the string to sign write it.
	amzDate      string
	signedAt     time.Time
	sessionToken string
	hasExpires   bool
	expires      int // X-Amz-Expires in seconds, if hasExpires

	// sum receives the signature computed, here rather than in a local
	// that escapes through hash.Hash.Sum (one allocation per request).
	sum [sha256.Size]byte
}

// authPool holds the auth values of requests being verified: one per
// request, of which nothing outlives Verify.
var authPool = sync.Pool{New: func() any { return new(auth) }}

// newAuth returns a zero auth from the pool (with the array of its
// signedHeaders kept); give it back with release.
func newAuth() *auth {
	a := authPool.Get().(*auth)
	*a = auth{signedHeaders: a.signedHeaders[:0]}
	return a
}

// release gives a back to the pool; a must not be used after.
func (a *auth) release() {
	if cap(a.signedHeaders) <= maxPooledHeaders {
		authPool.Put(a)
	}
}

// maxPooledHeaders bounds the signedHeaders array an auth keeps in the
// pool: a request may sign any number of headers.
const maxPooledHeaders = 32

// contentSHA256 returns the X-Amz-Content-Sha256 header when it is signed.
func (a *auth) contentSHA256(r *http.Request) (string, bool) {
	for _, h := range a.signedHeaders {
		if strings.EqualFold(h, "x-amz-content-sha256") {
			return strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256")), true
		}
	}
	return "", false
}

// authorization holds the three components of an Authorization header.
// An absent component is "".
type authorization struct {
	Credential    string
	SignedHeaders string
	Signature     string
}

// String formats a in the form the AWS SDKs send.
func (a authorization) String() string {
	return algorithm + " Credential=" + a.Credential + ", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
}

// parseAuthorization splits an Authorization header into its components.
// Components are separated by "," with optional spaces; the first of each
// name wins and unknown names are ignored. The only error is an algorithm
// other than AWS4-HMAC-SHA256; missing components are left empty for the
// caller to report.
func parseAuthorization(h string) (authorization, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimLeft(h, " \t"), " ")
	if alg != algorithm {
		return authorization{}, &Error{CodeIncompleteSignature, echoAlgorithm + alg + "'"}
	}
	var a authorization
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.Trim(part, " \t"), "=")
		if !ok {
			continue
		}
		var dst *string
		switch k {
		case "Credential":
			dst = &a.Credential
		case "SignedHeaders":
			dst = &a.SignedHeaders
		case "Signature":
			dst = &a.Signature
		default:
			continue
		}
		if *dst == "" {
			*dst = strings.Trim(v, " \t")
		}
	}
	return a, nil
}

// presignParams are the query parameters that mark presigned auth.
var presignParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"}

// parseRequest extracts the authentication information of r: checks 1 and
// 2 of spec §4.4.
func parseRequest(r *http.Request) (*auth, error) {
	header := r.Header.Get("Authorization")
	var query url.Values
	if strings.Contains(r.URL.RawQuery, "X-Amz-") {
		query, _ = url.ParseQuery(r.URL.RawQuery) // keeps what parses
		presigned := false
		for _, p := range presignParams {
			if query.Has(p) {
				presigned = true
			}
		}
		if !presigned {
			query = nil
		}
	}
	switch {
	case header == "" && query == nil:
		return nil, &Error{CodeMissingAuthenticationToken, msgMissingToken}
	case header != "" && query != nil:
		return nil, &Error{CodeIncompleteSignature, "Only one auth mechanism allowed; only the X-Amz-Algorithm " +
			"query parameter or the Authorization header should be specified"}
	case query != nil:
		return parsePresigned(query)
	}

	parts, perr := parseAuthorization(header)
	if perr != nil {
		return nil, perr
	}
	rawDate := r.Header.Get("X-Amz-Date")
	fromDateHeader := false
	if rawDate == "" {
		rawDate = r.Header.Get("Date")
		fromDateHeader = true
	}
	var missing []string
	if parts.Credential == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if parts.Signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if parts.SignedHeaders == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if rawDate == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, &Error{CodeIncompleteSignature, strings.Join(missing, " ") + echoAuthorization + header}
	}

	a := newAuth()
	a.signedHeadersRaw = parts.SignedHeaders
	a.signature = parts.Signature
	a.rawDate = rawDate
	a.sessionToken = r.Header.Get("X-Amz-Security-Token")
	if err := a.setCredential(parts.Credential); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(parts.SignedHeaders); err != nil {
		return nil, err
	}
	if err := a.setDate(rawDate, fromDateHeader); err != nil {
		return nil, err
	}
	return a, nil
}

// parsePresigned extracts presigned query auth (spec §4.5).
func parsePresigned(q url.Values) (*auth, error) {
	var missing []string
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(p) == "" {
			missing = append(missing, "AWS query-string parameters must include '"+p+"'.")
		}
	}
	if len(missing) > 0 {
		return nil, &Error{CodeIncompleteSignature, strings.Join(missing, " ") + " Re-examine the query-string parameters."}
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		return nil, &Error{CodeIncompleteSignature, `X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"`}
	}
	a := newAuth()
	a.presigned = true
	a.signedHeadersRaw = q.Get("X-Amz-SignedHeaders")
	a.signature = q.Get("X-Amz-Signature")
	a.rawDate = q.Get("X-Amz-Date")
	a.sessionToken = q.Get("X-Amz-Security-Token")
	if err := a.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(a.signedHeadersRaw); err != nil {
		return nil, err
	}
	if err := a.setDate(a.rawDate, false); err != nil {
		return nil, err
	}
	if q.Has("X-Amz-Expires") {
		raw := q.Get("X-Amz-Expires")
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			return nil, &Error{CodeIncompleteSignature, "X-Amz-Expires should be a number"}
		case n < 0:
			return nil, &Error{CodeIncompleteSignature, "X-Amz-Expires must be non-negative"}
		case n > maxPresignExpires:
			return nil, &Error{CodeIncompleteSignature, "X-Amz-Expires must be less than a week (in seconds) that is 604800"}
		}
		a.hasExpires, a.expires = true, n
	}
	return a, nil
}

// setCredential splits keyid/date/region/service/terminator.
func (a *auth) setCredential(c string) error {
	var parts [5]string
	rest := c
	for i := range 4 {
		var ok bool
		if parts[i], rest, ok = strings.Cut(rest, "/"); !ok {
			return &Error{CodeIncompleteSignature, echoCredential + c + "'"}
		}
	}
	if strings.Contains(rest, "/") {
		return &Error{CodeIncompleteSignature, echoCredential + c + "'"}
	}
	parts[4] = rest
	a.credential = c
	a.accessKeyID, a.date, a.region, a.service, a.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

// setSignedHeaders splits the SignedHeaders list, which must include host,
// into a.signedHeaders (reusing its array: strings.Split allocated one per
// request).
func (a *auth) setSignedHeaders(raw string) error {
	a.signedHeaders = a.signedHeaders[:0]
	for rest, more := raw, true; more; {
		var h string
		h, rest, more = strings.Cut(rest, ";")
		a.signedHeaders = append(a.signedHeaders, h)
	}
	for _, h := range a.signedHeaders {
		if strings.EqualFold(h, "host") {
			return nil
		}
	}
	return &Error{CodeIncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
}

// setDate parses X-Amz-Date (ISO-8601 basic format, exactly) or, for a
// Date header, any HTTP date format.
func (a *auth) setDate(raw string, httpDate bool) error {
	var t time.Time
	var err error
	if httpDate {
		t, err = http.ParseTime(raw)
	} else {
		var ok bool
		if t, ok = parseAmzDate(raw); !ok {
			err = strconv.ErrSyntax
		}
	}
	if err != nil {
		return &Error{CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '" + raw +
			"'. See http://en.wikipedia.org/wiki/ISO_8601"}
	}
	a.signedAt = t.UTC()
	if !httpDate {
		a.amzDate = raw
	}
	return nil
}

// appendDate appends the request time in timeFormat: X-Amz-Date as sent,
// which is that already (parseAmzDate), or a Date header's time formatted.
func (a *auth) appendDate(b []byte) []byte {
	if a.amzDate != "" {
		return append(b, a.amzDate...)
	}
	return appendAmzDate(b, a.signedAt)
}
