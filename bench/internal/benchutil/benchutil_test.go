package benchutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/testproc"
)

func TestMain(m *testing.M) { testproc.Main(m) }

// TestConnAgainstServer: the real server (SigV4 on) accepts the calls a
// Conn signs with awsreq.Lean, each signed afresh, and they do what they
// say (read back with the SDK); a Conn with a wrong secret is refused.
func TestConnAgainstServer(t *testing.T) {
	srv := testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir()})
	root := srv.Credentials()
	creds := aws.Credentials{AccessKeyID: root.ID, SecretAccessKey: root.Secret}
	c, err := NewConn(srv.URL(), "us-east-1", creds)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 20 { // one connection, a fresh signature per call
		body := fmt.Appendf(nil, `{"Name":"/bench/p%d","Value":"v%d","Type":"String","Overwrite":true}`, i%3, i)
		if err := c.Do("PutParameter", body); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := c.Do("GetParameter", []byte(`{"Name":"/bench/p1"}`)); err != nil {
		t.Fatal(err)
	}
	out, err := srv.SSM().GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/bench/p1")})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(out.Parameter.Value); v != "v19" {
		t.Errorf("/bench/p1 = %q, want v19 (the last write)", v)
	}
	if err := c.Do("GetParameter", []byte(`{"Name":"/bench/none"}`)); !isStatus(err, http.StatusBadRequest) {
		t.Errorf("a missing parameter: %v, want a 400 StatusError", err)
	}

	bad, err := NewConn(srv.URL(), "us-east-1", aws.Credentials{AccessKeyID: root.ID, SecretAccessKey: root.Secret + "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Do("GetParameter", []byte(`{"Name":"/bench/p1"}`))
	var se *StatusError
	if !errors.As(err, &se) || se.Status == http.StatusOK {
		t.Fatalf("a wrong secret: %v, want a refusal", err)
	}
}

func isStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// TestConnRedials: a connection the server closed (after an answer with
// Connection: close, or while idle) is replaced, and the call goes through.
func TestConnRedials(t *testing.T) {
	var conns atomic.Int64
	var closeNext atomic.Bool
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") == "" || r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		if closeNext.Swap(false) {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte(`{}`))
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	c, err := NewConn(ts.URL, "us-east-1", aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "S"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call := func(step string) {
		t.Helper()
		if err := c.Do("GetParameter", []byte(`{"Name":"/a"}`)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	call("first")
	call("reused")
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for two calls, want 1 (keep-alive)", n)
	}
	closeNext.Store(true)
	call("answered with Connection: close")
	call("after Connection: close")
	ts.CloseClientConnections()
	call("after the server closed the idle connection")
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// TestConnTimeout: a server that takes the call and never answers fails
// it after Conn.Timeout instead of holding the worker.
func TestConnTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer ts.Close()
	defer close(release)
	c, err := NewConn(ts.URL, "us-east-1", aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "S"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 50 * time.Millisecond
	var ne net.Error
	if err := c.Do("GetParameter", []byte(`{}`)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a silent server: %v, want a timeout", err)
	}
}

// BenchmarkSend compares one signed call through the SDK path (Client:
// aws-sdk-go-v2's signer over net/http) and the lean one (Conn) against an
// in-process handler that answers at once. ns/op and allocs/op include the
// handler's share, which is the same for both.
func BenchmarkSend(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"Parameter":{"Name":"/a","Value":"x"}}`))
	}))
	defer ts.Close()
	creds := aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "S"}
	body := []byte(`{"Name":"/loadgen/p0000001"}`)
	b.Run("sdk", func(b *testing.B) {
		c := NewClient(ts.URL, "us-east-1", creds, 2)
		b.ReportAllocs()
		for b.Loop() {
			if !c.Send("GetParameter", body) {
				b.Fatal("call failed")
			}
		}
	})
	b.Run("lean", func(b *testing.B) {
		c, err := NewConn(ts.URL, "us-east-1", creds)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			if !c.Send("GetParameter", body) {
				b.Fatal("call failed")
			}
		}
	})
}
