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
func (m *moto) put(name, value string) int64 {
	m.t.Helper()
	out, err := motoCredentials.SSM(m.url).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		m.t.Fatalf("moto put %s: %v", name, err)
	}
	return out.Version
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
