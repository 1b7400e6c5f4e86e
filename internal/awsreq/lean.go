package awsreq

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Lean writes whole SigV4-signed AWS JSON 1.1 calls as HTTP/1.1 bytes,
// signed exactly as Signer.Post signs them (aws-sdk-go-v2's v4 signer: the
// same signed headers, canonical request and Authorization header, to the
// byte), without the SDK's per-request http.Request, header maps, sorted
// header lists and strings. It derives the signing key once per day and
// keeps its SHA-256 and HMAC states and its buffers across calls.
//
// It exists for the benchmark generator (bench/loadgen), which measures the
// server and must not spend the cores it shares with the server on the
// SDK's signing machinery; every call still carries its own X-Amz-Date and
// a signature over its own body, which the server verifies in full.
// Everything else (CLI, agent, client) signs with Signer.
//
// A Lean is not safe for concurrent use: give each goroutine its own.
type Lean struct {
	accessKey, secret, token, region string
	host                             string // the Host header, as Signer.Post sends it

	day   [8]byte   // yyyymmdd of mac's key; zero before the first call
	mac   hash.Hash // HMAC-SHA256 keyed with day's signing key
	sha   hash.Hash
	canon []byte // the canonical request, rebuilt per call
	sts   []byte // the string to sign
	sum   [sha256.Size]byte
}

// NewLean returns a Lean for the endpoint (http or https, root path) that
// signs with creds for region.
func NewLean(endpoint string, creds aws.Credentials, region string) (*Lean, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("awsreq: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimRight(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("awsreq: endpoint %q: want http(s)://host[:port] with no path or query", endpoint)
	}
	host := u.Host
	// As the SDK (and net/http) do: a default port is not part of the Host header.
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	for _, v := range []string{host, creds.AccessKeyID, creds.SessionToken, region} {
		if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, errors.New("awsreq: the host, access key, session token and region must not contain spaces or control characters")
		}
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, errors.New("awsreq: Lean needs an access key and a secret")
	}
	return &Lean{accessKey: creds.AccessKeyID, secret: creds.SecretAccessKey, token: creds.SessionToken,
		region: region, host: host, sha: sha256.New()}, nil
}

// signedHeaders are the headers Signer.Post's requests sign, sorted, as
// the SDK lists them (content-length only for a non-empty body).
const (
	signedHeaders        = "content-length;content-type;host;x-amz-date;x-amz-target"
	signedHeadersToken   = "content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
	signedHeadersNoBody  = "content-type;host;x-amz-date;x-amz-target"
	signedHeadersNoBodyT = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
)

// AppendPost appends to dst the HTTP/1.1 request that Signer.Post builds
// for the same call at time t: POST / with body, X-Amz-Target target,
// Content-Type ContentType, signed at t. The request keeps its connection
// open (HTTP/1.1's default). target must be a valid header value (no CR or
// LF); it is sent as given and signed as the SDK signs it.
func (l *Lean) AppendPost(dst []byte, target string, body []byte, t time.Time) []byte {
	t = t.UTC()
	var date [16]byte // yyyymmddThhmmssZ
	t.AppendFormat(date[:0], "20060102T150405Z")
	l.key(date[:8])

	var stamp [sha256.Size * 2]byte
	payload := sha256.Sum256(body)
	hex.Encode(stamp[:], payload[:])
	signed := l.signedHeaders(len(body))

	c := append(l.canon[:0], "POST\n/\n\n"...)
	if len(body) > 0 {
		c = append(c, "content-length:"...)
		c = strconv.AppendInt(c, int64(len(body)), 10)
		c = append(c, '\n')
	}
	c = append(c, "content-type:"+ContentType+"\nhost:"...)
	c = append(c, l.host...)
	c = append(c, "\nx-amz-date:"...)
	c = append(c, date[:]...)
	c = append(c, '\n')
	if l.token != "" {
		c = append(c, "x-amz-security-token:"...)
		c = append(c, l.token...)
		c = append(c, '\n')
	}
	c = append(c, "x-amz-target:"...)
	c = append(c, canonicalValue(target)...)
	c = append(c, "\n\n"...)
	c = append(c, signed...)
	c = append(c, '\n')
	c = append(c, stamp[:]...)
	l.canon = c

	l.sha.Reset()
	l.sha.Write(c)
	hex.Encode(stamp[:], l.sha.Sum(l.sum[:0]))
	s := append(l.sts[:0], "AWS4-HMAC-SHA256\n"...)
	s = append(s, date[:]...)
	s = append(s, '\n')
	s = l.appendScope(s, date[:8])
	s = append(s, '\n')
	s = append(s, stamp[:]...)
	l.sts = s

	l.mac.Reset()
	l.mac.Write(s)
	var sig [sha256.Size * 2]byte
	hex.Encode(sig[:], l.mac.Sum(l.sum[:0]))

	dst = append(dst, "POST / HTTP/1.1\r\nHost: "...)
	dst = append(dst, l.host...)
	dst = append(dst, "\r\nContent-Type: "+ContentType+"\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\nX-Amz-Target: "...)
	dst = append(dst, target...)
	dst = append(dst, "\r\nX-Amz-Date: "...)
	dst = append(dst, date[:]...)
	if l.token != "" {
		dst = append(dst, "\r\nX-Amz-Security-Token: "...)
		dst = append(dst, l.token...)
	}
	dst = append(dst, "\r\nAuthorization: AWS4-HMAC-SHA256 Credential="...)
	dst = append(dst, l.accessKey...)
	dst = append(dst, '/')
	dst = l.appendScope(dst, date[:8])
	dst = append(dst, ", SignedHeaders="...)
	dst = append(dst, signed...)
	dst = append(dst, ", Signature="...)
	dst = append(dst, sig[:]...)
	dst = append(dst, "\r\nUser-Agent: paramstore-bench\r\n\r\n"...)
	return append(dst, body...)
}

func (l *Lean) signedHeaders(n int) string {
	switch {
	case n > 0 && l.token == "":
		return signedHeaders
	case n > 0:
		return signedHeadersToken
	case l.token == "":
		return signedHeadersNoBody
	}
	return signedHeadersNoBodyT
}

// appendScope appends the credential scope yyyymmdd/region/ssm/aws4_request.
func (l *Lean) appendScope(dst, day []byte) []byte {
	dst = append(dst, day...)
	dst = append(dst, '/')
	dst = append(dst, l.region...)
	return append(dst, "/"+Service+"/aws4_request"...)
}

// key makes l.mac an HMAC keyed with day's signing key, deriving it when
// the day changed.
func (l *Lean) key(day []byte) {
	if l.mac != nil && string(day) == string(l.day[:]) {
		return
	}
	copy(l.day[:], day) // and not day itself below, which would make the caller's array escape
	k := hmacSum([]byte("AWS4"+l.secret), l.day[:])
	k = hmacSum(k, []byte(l.region))
	k = hmacSum(k, []byte(Service))
	k = hmacSum(k, []byte("aws4_request"))
	l.mac = hmac.New(sha256.New, k)
}

func hmacSum(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// canonicalValue is a header value as the SDK's signer canonicalizes it:
// no leading or trailing white space, inner runs of spaces as one.
func canonicalValue(v string) string {
	if !strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' }) {
		return v
	}
	v = strings.Trim(v, " ")
	var b strings.Builder
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
	return strings.TrimSpace(b.String())
}
