package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// AWS error codes a Verifier produces (spec §4.4). Every one is a client
// error (HTTP 400).
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeExpiredToken               = "ExpiredTokenException"
	CodeInvalidSignature           = "InvalidSignatureException"
)

// Fixed messages of spec §4.4.
const (
	msgMissingToken = "Missing Authentication Token"
	msgInvalidToken = "The security token included in the request is invalid."
	msgExpiredToken = "The security token included in the request is expired"
	msgMismatch     = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// MaxSkew is how far the request time may lie before or after the server
// clock (spec §4.4 rows 7 and 8).
const MaxSkew = 15 * time.Minute

// maxPresignExpires caps X-Amz-Expires at one week, as S3 does.
const maxPresignExpires = 604800

const (
	algorithm       = "AWS4-HMAC-SHA256"
	terminator      = "aws4_request"
	timeFormat      = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// regionRe is the syntactic region rule of spec §4.4.
var regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// Error is a refused request: an AWS error code and the message to send to
// the client. All codes map to HTTP 400.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "sigv4: " + e.Code + ": " + e.Message }

// StatusCode returns the HTTP status for e, always 400.
func (e *Error) StatusCode() int { return http.StatusBadRequest }

// ErrUnknownAccessKey is returned by a LookupFunc for an access key id it
// does not know. Verify turns it into UnrecognizedClientException.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Credentials are what the server knows about one access key.
type Credentials struct {
	// SecretAccessKey signs requests. Never log it.
	SecretAccessKey string
	// SessionToken, when set, must be sent as X-Amz-Security-Token. When
	// empty, a request that carries a token is refused, as AWS refuses a
	// token sent with long-term keys.
	SessionToken string
	// Expires, when non-zero, is the instant the credentials stop working
	// (ExpiredTokenException from then on).
	Expires time.Time
}

// LookupFunc returns the credentials of an access key id, or an error
// wrapping ErrUnknownAccessKey. Any other error is returned by Verify
// wrapped. It is called once per verification and may be called
// concurrently.
type LookupFunc func(accessKeyID string) (Credentials, error)

// Config configures a Verifier.
type Config struct {
	// Service is the signing name the credential scope must carry.
	Service string
	// Regions, when non-empty, is the list of accepted regions. When empty,
	// any region matching ^[a-z]{2}(-[a-z]+)+-\d+$ is accepted.
	Regions []string
	// Lookup resolves access key ids. Required.
	Lookup LookupFunc
	// Now is the server clock. Required.
	Now func() time.Time
	// CacheSize bounds the number of cached signing keys; 0 disables the
	// cache.
	CacheSize int
}

// Default returns a configuration for SSM with the wall clock. Lookup must
// still be set.
func Default() Config {
	return Config{Service: "ssm", Now: time.Now, CacheSize: 1024}
}

// Validate checks the configuration, naming the failing field.
func (c Config) Validate() error {
	switch {
	case c.Service == "":
		return errors.New("sigv4: Service is required")
	case c.Lookup == nil:
		return errors.New("sigv4: Lookup is required")
	case c.Now == nil:
		return errors.New("sigv4: Now is required")
	case c.CacheSize < 0:
		return fmt.Errorf("sigv4: CacheSize %d must not be negative", c.CacheSize)
	}
	for _, r := range c.Regions {
		if r == "" {
			return errors.New("sigv4: Regions must not contain an empty region")
		}
	}
	return nil
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKeyID  string
	Region       string
	Service      string
	SessionToken string
	// SignedAt is the request time (X-Amz-Date) in UTC.
	SignedAt time.Time
	// Presigned reports query-string authentication.
	Presigned bool
	// UnsignedPayload reports a presigned request whose signature does not
	// cover the body.
	UnsignedPayload bool
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	service string
	regions map[string]bool
	lookup  LookupFunc
	now     func() time.Time
	keys    *keyCache
}

// New returns a Verifier for c.
func New(c Config) (*Verifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		service: c.Service,
		lookup:  c.Lookup,
		now:     c.Now,
		keys:    newKeyCache(c.CacheSize),
	}
	if len(c.Regions) > 0 {
		v.regions = make(map[string]bool, len(c.Regions))
		for _, r := range c.Regions {
			v.regions[r] = true
		}
	}
	return v, nil
}

// Verify checks the signature of r, whose body has already been read into
// body. It returns a *Error for every refused request, and a wrapped lookup
// error if the credential lookup fails.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Result, error) {
	a, err := parseRequest(r)
	if err != nil {
		return nil, err
	}
	defer a.release()

	// Rows 3-5: the credentials.
	creds, lerr := v.lookup(a.accessKeyID)
	if lerr != nil {
		if errors.Is(lerr, ErrUnknownAccessKey) {
			return nil, &Error{CodeUnrecognizedClient, msgInvalidToken}
		}
		return nil, fmt.Errorf("sigv4: look up access key %q: %w", a.accessKeyID, lerr)
	}
	// Both empty compares equal: long-term keys need no token, and refuse one.
	if subtle.ConstantTimeCompare([]byte(creds.SessionToken), []byte(a.sessionToken)) != 1 {
		return nil, &Error{CodeUnrecognizedClient, msgInvalidToken}
	}
	now := v.now().UTC()
	if !creds.Expires.IsZero() && !now.Before(creds.Expires) {
		return nil, &Error{CodeExpiredToken, msgExpiredToken}
	}

	// Row 6: the credential scope.
	if msg := v.checkScope(a); msg != "" {
		return nil, &Error{CodeInvalidSignature, msg}
	}

	// Rows 7-8: the request time.
	if err := checkTime(a, now); err != nil {
		return nil, err
	}

	// Row 9: the signature.
	unsigned, ok := v.checkSignature(r, body, a, creds.SecretAccessKey)
	if !ok {
		return nil, &Error{CodeInvalidSignature, msgMismatch}
	}
	return &Result{
		AccessKeyID:     a.accessKeyID,
		Region:          a.region,
		Service:         a.service,
		SessionToken:    a.sessionToken,
		SignedAt:        a.signedAt,
		Presigned:       a.presigned,
		UnsignedPayload: unsigned,
	}, nil
}

// checkScope returns the row-6 message for a's credential scope, or "".
func (v *Verifier) checkScope(a *auth) string {
	var msg string
	if !v.validRegion(a.region) {
		msg += "Credential should be scoped to a valid region, not '" + a.region + "'. "
	}
	if a.service != v.service {
		msg += "Credential should be scoped to correct service: '" + v.service + "'. "
	}
	if a.terminator != terminator {
		msg += "Credential should be scoped with a valid terminator: 'aws4_request', not '" + a.terminator + "'. "
	}
	var day [16]byte
	if headerDate := a.appendDate(day[:0])[:8]; a.date != string(headerDate) {
		msg += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			a.date + "' != '" + string(headerDate) + "', from '" + a.rawDate + "'."
	}
	return msg
}

// ValidRegion reports whether a credential scope may name region: one of
// Config.Regions, or any syntactically valid region when that is empty.
func (v *Verifier) ValidRegion(region string) bool { return v.validRegion(region) }

func (v *Verifier) validRegion(region string) bool {
	if v.regions != nil {
		return v.regions[region]
	}
	return regionRe.MatchString(region)
}

// checkTime applies rows 7 and 8. A presigned request with X-Amz-Expires is
// valid from its signing time until the expiry instead of for 15 minutes
// back.
func checkTime(a *auth, now time.Time) error {
	req := func() string { return a.signedAt.Format(timeFormat) }
	if a.expires > 0 {
		expires := time.Duration(a.expires) * time.Second
		if a.signedAt.Add(expires).Before(now) {
			secs := strconv.Itoa(a.expires)
			return &Error{CodeInvalidSignature, "Signature expired: " + req() + " is now earlier than " +
				now.Add(-expires).Format(timeFormat) + " (" + now.Format(timeFormat) + " - " + secs + " sec.)"}
		}
	} else if earliest := now.Add(-MaxSkew); a.signedAt.Before(earliest) {
		return &Error{CodeInvalidSignature, "Signature expired: " + req() + " is now earlier than " +
			earliest.Format(timeFormat) + " (" + now.Format(timeFormat) + " - 15 min.)"}
	}
	if latest := now.Add(MaxSkew); a.signedAt.After(latest) {
		return &Error{CodeInvalidSignature, "Signature not yet current: " + req() + " is still later than " +
			latest.Format(timeFormat) + " (" + now.Format(timeFormat) + " + 15 min.)"}
	}
	return nil
}

// checkSignature recomputes the signature for each canonical form the
// client may have used and compares it with the one sent. It reports
// whether the matching form left the payload unsigned. The canonical
// request and the string to sign are built in one pooled buffer: this runs
// on every request.
func (v *Verifier) checkSignature(r *http.Request, body []byte, a *auth, secret string) (unsigned, ok bool) {
	var want [sha256.Size]byte
	if !decodeHex(want[:], a.signature) {
		return false, false
	}
	var bodyHash [2 * sha256.Size]byte
	sum := sha256.Sum256(body)
	hex.Encode(bodyHash[:], sum[:])
	payloads := [2][]byte{bodyHash[:]}
	npayloads := 1
	if h, signed := a.contentSHA256(r); signed {
		// The signed header names the payload hash; it must be the body's,
		// except that presigned requests may leave the payload unsigned.
		switch {
		case h == string(bodyHash[:]):
		case a.presigned && h == unsignedPayload:
			payloads[0] = []byte(unsignedPayload)
		default:
			return false, false
		}
	} else if a.presigned {
		payloads[1] = []byte(unsignedPayload)
		npayloads = 2
	}

	key := v.signingKey(a, secret)
	uri, altURI := canonicalURI(r)
	uris := [2]string{uri, altURI}
	nuris := 1
	if altURI != "" {
		nuris = 2
	}
	query := canonicalQuery(r.URL.RawQuery, a.presigned)

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	// buf holds the canonical headers, then each canonical request, then
	// its string to sign.
	buf := appendCanonicalHeaders((*bp)[:0], r, a.signedHeaders)
	headersEnd := len(buf)
	mac := key.mac()
	defer key.put(mac)
	tries := 0
	for _, uri := range uris[:nuris] {
		for _, payload := range payloads[:npayloads] {
			buf = appendCanonicalRequest(buf[:headersEnd], r.Method, uri, query, buf[:headersEnd], a.signedHeadersRaw, payload)
			creqHash := sha256.Sum256(buf[headersEnd:])
			stsStart := len(buf)
			buf = appendStringToSign(buf, a, creqHash)
			if tries++; tries > 1 {
				mac.Reset()
			}
			mac.Write(buf[stsStart:])
			if hmac.Equal(mac.Sum(a.sum[:0]), want[:]) {
				*bp = buf[:0]
				return string(payload) == unsignedPayload, true
			}
		}
	}
	*bp = buf[:0]
	return false, false
}

// bufPool holds checkSignature's buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// decodeHex decodes the hex string s into dst, which it must fill exactly.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendStringToSign appends the SigV4 string to sign of a canonical
// request whose SHA-256 is creqHash. Row 6 has checked the terminator.
func appendStringToSign(b []byte, a *auth, creqHash [sha256.Size]byte) []byte {
	b = append(b, algorithm+"\n"...)
	b = a.appendDate(b)
	b = append(b, '\n')
	b = append(b, a.date...)
	b = append(b, '/')
	b = append(b, a.region...)
	b = append(b, '/')
	b = append(b, a.service...)
	b = append(b, "/"+terminator+"\n"...)
	return hex.AppendEncode(b, creqHash[:])
}

// signingKey returns the derived key for a's scope, from the cache when
// possible. The scope's terminator has been checked.
func (v *Verifier) signingKey(a *auth, secret string) *signingKey {
	ck := cacheKey{accessKeyID: a.accessKeyID, date: a.date, region: a.region, service: a.service}
	if k, ok := v.keys.get(ck, secret); ok {
		return k
	}
	k := newSigningKey(deriveKey(secret, a.date, a.region, a.service))
	v.keys.put(ck, secret, k)
	return k
}

// deriveKey computes the SigV4 signing key (spec §4.3).
func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(terminator))
}

// stringToSign builds the SigV4 string to sign for a canonical request.
func stringToSign(t time.Time, scope, canonicalRequest string) string {
	return algorithm + "\n" + t.Format(timeFormat) + "\n" + scope + "\n" + hexSHA256([]byte(canonicalRequest))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
