package agent_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// moto is a moto_server process standing in for AWS SSM.
type moto struct {
	t   testing.TB
	url string
}

func startMoto(t testing.TB) *moto {
	t.Helper()
	return &moto{t: t, url: testproc.StartMoto(t)}
}

// motoCredentials is what moto accepts.
var motoCredentials = testproc.Credentials{ID: "testing", Secret: "testing"}

// put writes value as a new version of name and returns the version.
//
// The SDK's retries are off: a put that moto applied but whose answer was
// lost (a connection reset on a loaded machine) would be applied twice,
// and a test that names value "vN" after version N would see version N+1
// hold "vN". A failed put is looked up instead, and sent again only if
// moto did not apply it.
func (m *moto) put(name, value string) int64 {
	m.t.Helper()
	c := motoCredentials.SSM(m.url)
	noRetry := func(o *ssm.Options) { o.RetryMaxAttempts = 1 }
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var out *ssm.PutParameterOutput
		out, err = c.PutParameter(context.Background(), &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(value), Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		}, noRetry)
		if err == nil {
			return out.Version
		}
		got, gerr := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if gerr == nil && aws.ToString(got.Parameter.Value) == value {
			return got.Parameter.Version
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("moto put %s: %v", name, err)
	return 0
}

// motoEnv is the environment of processes that talk to moto.
func motoEnv(t testing.TB, extra ...string) []string {
	return motoCredentials.Env(t, extra...)
}

// Upstream modes of a switch.
const (
	modeUp        = "healthy"
	modeDown      = "down"      // connections closed at once
	modeBlackhole = "blackhole" // accepted, never answered
	modeSlow      = "slow-1s"   // answered after 1s
	modeThrottle  = "throttling"
	modeError     = "5xx"
)

// upstreamSwitch is a reverse proxy in front of an upstream that can be
// put in a failure mode: what the agent sees of a store in trouble.
type upstreamSwitch struct {
	*httptest.Server
	mu   sync.Mutex
	mode string
	stop chan struct{} // closed by Close: releases blackholed requests
}

func newSwitch(t testing.TB, target string) *upstreamSwitch {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // a blackholed call cancelled by the agent is not news
	s := &upstreamSwitch{mode: modeUp, stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.get() {
		case modeDown:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		case modeBlackhole:
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-s.stop:
			}
			return
		case modeSlow:
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
		case modeThrottle:
			awsError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
			return
		case modeError:
			awsError(w, http.StatusInternalServerError, "InternalServerError", "An internal error occurred.")
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(s.stop)
		s.Server.Close()
	})
	return s
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

func (s *upstreamSwitch) set(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
}

func (s *upstreamSwitch) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}
