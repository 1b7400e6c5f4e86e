package e2e_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/testproc"
)

// slowPut is a PutParameter sent over a raw connection in two steps: the
// headers (with Expect: 100-continue) first, the body later.
type slowPut struct {
	name string
	body string
	conn net.Conn
	br   *bufio.Reader
}

// rawHead returns the head (request line and headers) of a PutParameter of
// body, signed with the server's root key, followed by extraHeaders.
func rawHead(t *testing.T, srv *testproc.Server, body, extraHeaders string) string {
	t.Helper()
	cr := srv.Credentials()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.PutParameter")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: cr.ID, SecretAccessKey: cr.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ssm", "us-east-1", time.Now()); err != nil {
		t.Fatalf("sign: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.Host, len(body))
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	return b.String() + extraHeaders + "\r\n"
}

// begin dials, proves the connection is served with one complete request,
// then sends the headers of the slow request and waits for "100 Continue",
// which the server sends only once the handler runs and reads the body:
// from then on the request is accepted and in flight.
func (s *slowPut) begin(t *testing.T, srv *testproc.Server) {
	t.Helper()
	addr := srv.Addr()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	s.conn, s.br = conn, bufio.NewReader(conn)

	warm := fmt.Sprintf(`{"Name":%q,"Value":"warm","Type":"String"}`, s.name+"-warm")
	io.WriteString(conn, rawHead(t, srv, warm, "")+warm)
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		t.Fatalf("%s: warm-up request: %v", s.name, err)
	}
	warmBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: warm-up request: status %d: %s", s.name, resp.StatusCode, warmBody)
	}

	s.body = fmt.Sprintf(`{"Name":%q,"Value":"drained value of %s","Type":"String"}`, s.name, s.name)
	io.WriteString(conn, rawHead(t, srv, s.body, "Expect: 100-continue\r\n"))
	line, err := s.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("%s: waiting for 100 Continue: got %q, %v", s.name, line, err)
	}
	if blank, err := s.br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("%s: after 100 Continue: got %q, %v", s.name, blank, err)
	}
}

// finish sends the body and reads the final response.
func (s *slowPut) finish() (int, string, error) {
	if _, err := io.WriteString(s.conn, s.body); err != nil {
		return 0, "", fmt.Errorf("send body: %w", err)
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return 0, "", fmt.Errorf("read response: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestSIGTERMDrain sends SIGTERM while several requests are in flight (the
// server has their headers and is reading their bodies). The server must
// stop accepting connections, complete every in-flight request, exit 0,
// and have stored their writes.
func TestSIGTERMDrain(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)

	const n = 6
	puts := make([]*slowPut, n)
	for i := range puts {
		puts[i] = &slowPut{name: fmt.Sprintf("/drain/slow-%d", i)}
		puts[i].begin(t, srv)
	}

	draining := srv.WatchLog("shutting down: draining requests")
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-draining:
	case <-srv.Done():
		t.Fatalf("server exited (%v) with %d requests in flight", srv.Err(), n)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not log the start of draining within 10s of SIGTERM")
	}

	// New connections are refused once draining has begun.
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Errorf("server still accepts connections 5s after SIGTERM")
	}
	select {
	case <-srv.Done():
		t.Fatalf("server exited (%v) before its %d in-flight requests completed", srv.Err(), n)
	default:
	}

	// Complete the in-flight requests: each must succeed.
	for _, p := range puts {
		status, body, err := p.finish()
		if err != nil {
			t.Errorf("%s: in-flight request failed during the drain: %v", p.name, err)
			continue
		}
		var out struct{ Version int64 }
		if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.Version != 1 {
			t.Errorf("%s: in-flight request during the drain: got status %d body %s, want 200 with Version 1", p.name, status, body)
		}
	}

	select {
	case <-srv.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit within 30s after the in-flight requests completed")
	}
	<-srv.Done()
	if code := srv.ExitCode(); code != 0 {
		t.Errorf("server exited with code %d after SIGTERM, want 0", code)
	}

	// The drained writes are durable.
	srv = startServer(t, dataDir)
	c := srv.SSM()
	for _, p := range puts {
		out, err := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(p.name)})
		if err != nil {
			t.Errorf("GetParameter %s after restart: %v", p.name, err)
			continue
		}
		if got, want := aws.ToString(out.Parameter.Value), "drained value of "+p.name; got != want {
			t.Errorf("GetParameter %s after restart: got %q, want %q", p.name, got, want)
		}
	}
}
