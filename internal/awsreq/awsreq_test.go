package awsreq

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/internal/sigv4"
)

const (
	testAK     = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var signTime = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)

// verifier is the server's SigV4 verifier, knowing testAK, at signTime.
func verifier(t *testing.T) *sigv4.Verifier {
	t.Helper()
	c := sigv4.Default()
	c.Now = func() time.Time { return signTime }
	c.Lookup = func(id string) (sigv4.Credentials, error) {
		if id != testAK {
			return sigv4.Credentials{}, sigv4.ErrUnknownAccessKey
		}
		return sigv4.Credentials{SecretAccessKey: testSecret}, nil
	}
	v, err := sigv4.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newSigner() *Signer {
	return NewSigner(credentials.NewStaticCredentialsProvider(testAK, testSecret, ""), "eu-west-1", func() time.Time { return signTime })
}

// TestPost: the call is what an SDK sends, and the server's verifier
// accepts its signature.
func TestPost(t *testing.T) {
	body := []byte(`{"Name":"/app/url"}`)
	for _, endpoint := range []string{"http://127.0.0.1:4583", "http://127.0.0.1:4583/"} {
		req, err := newSigner().Post(context.Background(), endpoint, "AmazonSSM.GetParameter", body)
		if err != nil {
			t.Fatalf("Post: %v", err)
		}
		if req.Method != "POST" || req.URL.String() != "http://127.0.0.1:4583/" {
			t.Errorf("request %s %s, want POST http://127.0.0.1:4583/", req.Method, req.URL)
		}
		for h, want := range map[string]string{"X-Amz-Target": "AmazonSSM.GetParameter", "Content-Type": "application/x-amz-json-1.1"} {
			if got := req.Header.Get(h); got != want {
				t.Errorf("%s: got %q, want %q", h, got, want)
			}
		}
		got, err := io.ReadAll(req.Body)
		if err != nil || string(got) != string(body) {
			t.Errorf("body %q, %v; want %q", got, err, body)
		}
		res, err := verifier(t).Verify(req, body)
		if err != nil {
			t.Fatalf("the server refuses the signature: %v", err)
		}
		if res.AccessKeyID != testAK || res.Region != "eu-west-1" || res.Service != "ssm" || !res.SignedAt.Equal(signTime) {
			t.Errorf("verified as %+v, want %s in eu-west-1 for ssm at %v", res, testAK, signTime)
		}
	}
}

func TestGet(t *testing.T) {
	req, err := newSigner().Get(context.Background(), "http://127.0.0.1:4583/_paramstore/changes?path=%2Fapp&since=3")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if req.Method != "GET" || req.URL.Path != "/_paramstore/changes" || req.URL.Query().Get("path") != "/app" {
		t.Errorf("request %s %s", req.Method, req.URL)
	}
	if _, err := verifier(t).Verify(req, nil); err != nil {
		t.Errorf("the server refuses the signature: %v", err)
	}
}

// TestUnsigned: without credentials nothing is signed.
func TestUnsigned(t *testing.T) {
	req, err := NewSigner(nil, "us-east-1", nil).Post(context.Background(), "http://h", "AmazonSSM.GetParameter", []byte("{}"))
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if a := req.Header.Get("Authorization"); a != "" {
		t.Errorf("unsigned request has Authorization %q", a)
	}
	if got := req.Header.Get("X-Amz-Target"); got != "AmazonSSM.GetParameter" {
		t.Errorf("X-Amz-Target %q", got)
	}
}

func TestErrors(t *testing.T) {
	boom := errors.New("no credentials in the environment")
	failing := NewSigner(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, boom }), "us-east-1", nil)
	_, err := failing.Post(context.Background(), "http://h", "Paramstore.ListNodes", nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "Paramstore.ListNodes: credentials") {
		t.Errorf("Post with failing credentials = %v, want the cause, naming the call and the credentials", err)
	}
	_, err = failing.Get(context.Background(), "http://h/_paramstore/snapshot")
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "/_paramstore/snapshot: credentials") {
		t.Errorf("Get with failing credentials = %v, want the cause, naming the path and the credentials", err)
	}
	if _, err := newSigner().Get(context.Background(), "http://h/\x7f"); err == nil {
		t.Error("Get of a malformed URL succeeded")
	}
}

// TestCall: the server gets the signed call and its answer comes back.
func TestCall(t *testing.T) {
	v := verifier(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		io.WriteString(w, r.Header.Get("X-Amz-Target")+" "+string(body))
	}))
	defer srv.Close()
	resp, err := newSigner().Call(context.Background(), srv.Client(), srv.URL, "Paramstore.ListNodes", []byte("{}"))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != "Paramstore.ListNodes {}" {
		t.Errorf("answer %d %q, want 200 \"Paramstore.ListNodes {}\"", resp.StatusCode, got)
	}

	srv.Close()
	if _, err := newSigner().Call(context.Background(), srv.Client(), srv.URL, "Paramstore.ListNodes", nil); err == nil || !strings.Contains(err.Error(), "Paramstore.ListNodes") {
		t.Errorf("Call to a closed server = %v, want an error naming the call", err)
	}
}
