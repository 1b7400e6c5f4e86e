// Package benchutil holds what the benchmark commands share: loading AWS
// credentials from a shared credentials file, sending SigV4-signed SSM JSON
// 1.1 requests the way an SDK does (Client: built by internal/awsreq with
// aws-sdk-go-v2's signer over net/http, keep-alive connections; Conn: the
// same requests, signed byte for byte alike by awsreq.Lean, over one
// connection per worker, for a generator that must leave the cores to the
// server), and summarizing latencies as p50/p90/p99/max.
package benchutil

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/internal/awsreq"
)

// LoadCreds reads profile default of an AWS shared credentials file (such
// as <data-dir>/root-credentials). Without a file, or for keys the file
// lacks, it uses AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and test/test when
// those are empty too.
func LoadCreds(path string) (aws.Credentials, error) {
	c := aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, err
		}
		profile := ""
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				profile = strings.Trim(line, "[]")
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || profile != "default" {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			}
		}
	}
	if c.AccessKeyID == "" {
		c.AccessKeyID, c.SecretAccessKey = "test", "test"
	}
	return c, nil
}

// Client sends signed SSM requests to one endpoint. It is safe for
// concurrent use.
type Client struct {
	url, region string
	creds       aws.Credentials
	signer      *awsreq.Signer
	http        *http.Client
}

// NewClient returns a client for the endpoint url that signs for region and
// keeps up to idleConns connections open.
func NewClient(url, region string, creds aws.Credentials, idleConns int) *Client {
	return &Client{url: url, region: region, creds: creds,
		signer: awsreq.NewSigner(credentials.StaticCredentialsProvider{Value: creds}, region, nil),
		http:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: idleConns}}}
}

// Conn returns a new Conn to c's endpoint with c's credentials: the lean
// path, for a worker that sends many calls.
func (c *Client) Conn() (*Conn, error) { return NewConn(c.url, c.region, c.creds) }

// StatusError is a non-200 answer.
type StatusError struct {
	Target string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("benchutil: %s: HTTP %d: %s", e.Target, e.Status, e.Body)
}

// Do signs and sends one call of the operation target (e.g. "GetParameter")
// with a JSON body. On HTTP 200 it decodes the answer into out, or discards
// it when out is nil; any other status is a *StatusError.
func (c *Client) Do(ctx context.Context, target string, body []byte, out any) error {
	resp, err := c.signer.Call(ctx, c.http, c.url, "AmazonSSM."+target, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &StatusError{Target: target, Status: resp.StatusCode, Body: string(raw)}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Send is Do without an answer: it reports whether the call got HTTP 200.
func (c *Client) Send(target string, body []byte) bool {
	return c.Do(context.Background(), target, body, nil) == nil
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	RPS                float64
	P50, P90, P99, Max float64
	Count, Errors      int
}

// Summarize sorts lat in place and summarizes it; elapsed gives the rate.
// lat must not be empty.
func Summarize(lat []time.Duration, errs int, elapsed time.Duration) Summary {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	return Summary{RPS: float64(len(lat)) / elapsed.Seconds(), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: q(1),
		Count: len(lat), Errors: errs}
}

// Conn is one keep-alive HTTP/1.1 connection to an SSM endpoint that sends
// each call signed afresh by awsreq.Lean (its own X-Amz-Date, a signature
// over its own body, byte-identical to the SDK's) in one write, and reads
// the answer with readResponse (status, framing and connection handling as
// net/http's parser, without its allocations). It is the generator's lean path:
// net/http's Transport spends two goroutines, channel hand-offs and header
// maps per request, and the SDK's signer ~25 µs and 57 allocations, on the
// cores the server under test needs. A Conn is not safe for concurrent
// use: give each worker its own (one connection per request in flight, as
// an SDK client opens them).
type Conn struct {
	// Timeout bounds each call (writing it and reading the whole answer),
	// so that a server that stops answering fails the call instead of
	// holding the worker past the end of the run. NewConn sets 60 s.
	Timeout time.Duration

	addr string
	tls  *tls.Config
	lean *awsreq.Lean

	c      net.Conn
	br     *bufio.Reader
	buf    []byte
	answer []byte // the start of a refused call's answer
}

// NewConn returns a Conn to the endpoint url (http or https) that signs
// with creds for region. It connects on the first call.
func NewConn(url, region string, creds aws.Credentials) (*Conn, error) {
	lean, err := awsreq.NewLean(url, creds, region)
	if err != nil {
		return nil, err
	}
	u, _ := neturl.Parse(url) // NewLean parsed it
	c := &Conn{Timeout: time.Minute, addr: u.Host, lean: lean}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
		c.tls = &tls.Config{ServerName: u.Hostname()}
	}
	if u.Port() == "" {
		c.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return c, nil
}

// Do signs and sends one call of the operation target (e.g.
// "GetParameter") with a JSON body, and reads the whole answer. Any status
// but 200 is a *StatusError. A connection the server closed while idle is
// redialed and the call sent again once; a call that times out is not.
func (c *Conn) Do(target string, body []byte) error {
	c.buf = c.lean.AppendPost(c.buf[:0], "AmazonSSM."+target, body, time.Now())
	reused := c.c != nil
	status, answer, err := c.roundTrip()
	var ne net.Error
	if err != nil && reused && !(errors.As(err, &ne) && ne.Timeout()) {
		c.Close()
		status, answer, err = c.roundTrip()
	}
	if err != nil {
		c.Close()
		return fmt.Errorf("benchutil: %s: %w", target, err)
	}
	if status != http.StatusOK {
		return &StatusError{Target: target, Status: status, Body: answer}
	}
	return nil
}

// Send is Do that reports whether the call got HTTP 200.
func (c *Conn) Send(target string, body []byte) bool { return c.Do(target, body) == nil }

// roundTrip writes c.buf and reads the answer: its status, and its body
// (up to 4 kB) when it is not 200.
func (c *Conn) roundTrip() (int, string, error) {
	if c.c == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
		if err != nil {
			return 0, "", err
		}
		if c.tls != nil {
			conn = tls.Client(conn, c.tls)
		}
		c.c = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	if err := c.c.SetDeadline(time.Now().Add(c.Timeout)); err != nil {
		return 0, "", err
	}
	if _, err := c.c.Write(c.buf); err != nil {
		return 0, "", err
	}
	status, closeConn, err := readResponse(c.br, &c.answer)
	if err != nil {
		return 0, "", err
	}
	if closeConn {
		c.Close()
	}
	var answer string
	if status != http.StatusOK {
		answer = string(c.answer)
	}
	return status, answer, nil
}

// readResponse reads one HTTP/1.1 response from br: it returns its status
// and whether the server closes the connection after it, and leaves in
// *answer the first 4 kB of its body when the status is not 200 (the rest
// is read and dropped). It reads what http.ReadResponse reads (the status
// line, the headers, a body framed by Content-Length, by chunked
// transfer coding or by the end of the connection) without building an
// http.Response: net/http's parser spent about a fifth of the
// generator's CPU per call (header maps, canonical keys, the Response and
// its body reader), on the cores the server under test shares. A
// response it cannot frame is an error, as it is for net/http.
func readResponse(br *bufio.Reader, answer *[]byte) (status int, closeConn bool, err error) {
	*answer = (*answer)[:0]
	line, err := readLine(br)
	if err != nil {
		return 0, false, err
	}
	// HTTP/1.1 200 OK
	proto, rest, ok := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") || len(code) != 3 || code[0] == '0' {
		return 0, false, fmt.Errorf("malformed HTTP status line %q", line)
	}
	for _, d := range code {
		if d < '0' || d > '9' {
			return 0, false, fmt.Errorf("malformed HTTP status code %q", code)
		}
		status = status*10 + int(d-'0')
	}
	closeConn = proto == "HTTP/1.0"
	length, chunked := int64(-1), false
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, false, err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, false, fmt.Errorf("malformed MIME header line %q", line)
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		case strings.EqualFold(name, "Transfer-Encoding"):
			if !strings.EqualFold(value, "chunked") {
				return 0, false, fmt.Errorf("unsupported transfer encoding %q", value)
			}
			chunked = true
		case strings.EqualFold(name, "Connection"):
			for tok := range strings.SplitSeq(value, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "close") {
					closeConn = true
				}
			}
		}
	}
	var body io.Reader
	switch {
	case status/100 == 1 || status == http.StatusNoContent || status == http.StatusNotModified:
		return status, closeConn, nil
	case chunked:
		body = httputil.NewChunkedReader(br)
	case length >= 0 && status == http.StatusOK:
		_, err = br.Discard(int(length))
		return status, closeConn, err
	case length >= 0:
		body = io.LimitReader(br, length)
	default: // the body runs to the end of the connection
		body, closeConn = br, true
	}
	if status != http.StatusOK {
		var buf [4096]byte
		n, err := io.ReadFull(body, buf[:])
		*answer = append(*answer, buf[:n]...)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return status, closeConn, err
		}
	}
	switch {
	case !chunked && length >= 0:
		_, err = br.Discard(int(length) - len(*answer))
		return status, closeConn, err
	case !chunked:
		_, err = io.Copy(io.Discard, body)
		return status, closeConn, err
	}
	if _, err = io.Copy(io.Discard, body); err != nil {
		return status, closeConn, err
	}
	// The trailer, up to its empty line.
	for {
		line, err := readLine(br)
		if err != nil || line == "" {
			return status, closeConn, err
		}
	}
}

// readLine reads one line, without its CRLF (or LF). The string shares
// br's buffer: it is valid until the next read from br, and must not be
// kept. A line longer than the buffer is an error.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errors.New("HTTP header line too long")
	}
	if err != nil {
		return "", err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return unsafe.String(unsafe.SliceData(line), len(line)), nil
}

// Close closes the connection; the next call dials a new one.
func (c *Conn) Close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}
