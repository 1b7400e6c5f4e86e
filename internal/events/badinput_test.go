package events_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/servertest"
)

func TestNotifyInvalidInput(t *testing.T) {
	_, endpoint := servertest.Start(t)
	for _, tc := range []struct {
		name string
		in   map[string]string
		want string
	}{
		{"no url", map[string]string{"Name": "a"}, "Url is required"},
		{"ftp", map[string]string{"Name": "a", "Url": "ftp://x/"}, "scheme must be http or https"},
		{"no host", map[string]string{"Name": "a", "Url": "http:///x"}, "has no host"},
		{"credentials", map[string]string{"Name": "a", "Url": "http://u:p@x/"}, "must not carry credentials"},
		{"not a url", map[string]string{"Name": "a", "Url": "http://[::1"}, "is not a URL"},
		{"bad name", map[string]string{"Name": "a b", "Url": "http://x/"}, "Name must be"},
		{"bad path", map[string]string{"Name": "a", "Url": "http://x/", "Path": "app"}, "Path must start"},
		{"bad detail type", map[string]string{"Name": "a", "Url": "http://x/", "DetailType": "x"}, "DetailType must be"},
		{"bad ca", map[string]string{"Name": "a", "Url": "https://x/", "CaBundle": "nope"}, "CaBundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := admin(t, endpoint, "PutNotification", tc.in, nil)
			if err == nil || !strings.Contains(err.Error(), "ValidationException") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a ValidationException with %q", err, tc.want)
			}
		})
	}
	if err := admin(t, endpoint, "DeleteNotification", map[string]string{"Name": "none"}, nil); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("delete of a missing subscription: %v", err)
	}
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "dup", "Url": "http://127.0.0.1:1/"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "dup", "Url": "http://127.0.0.1:1/"}, nil); err == nil || !strings.Contains(err.Error(), "AlreadyExistsException") {
		t.Errorf("second add: %v", err)
	}
}

// Receivers that fail in each way: the error shows in ListNotifications,
// the event stays pending (nothing lost), and a receiver answering after
// that gets it.
func TestWebhookBadReceivers(t *testing.T) {
	_, endpoint := servertest.Start(t, fastRetries)
	// An address nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	unreachable := "http://" + ln.Addr().String() + "/"
	ln.Close()
	var redirectTargetHit atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirectTargetHit.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	teapot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) }))
	defer teapot.Close()
	// A 200 followed by an endless body: only MaxResponse bytes are read.
	var hugeDone atomic.Int32
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		buf := make([]byte, 64<<10)
		for i := 0; i < 1<<14; i++ { // up to 1 GiB
			if _, err := w.Write(buf); err != nil {
				break
			}
		}
		hugeDone.Add(1)
	}))
	defer huge.Close()
	subs := map[string]string{"unreachable": unreachable, "redirect": redirect.URL, "teapot": teapot.URL, "huge": huge.URL}
	for name, u := range subs {
		if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": name, "Url": u, "Secret": "x"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := servertest.Client(t, endpoint, region)
	if _, err := c.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/bad/p"), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"unreachable": "connection refused",
		"redirect":    "307 Temporary Redirect",
		"teapot":      "418",
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list events.ListOutput
		if err := admin(t, endpoint, "ListNotifications", struct{}{}, &list); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, s := range list.Subscriptions {
			switch w, ok := want[s.Name]; {
			case ok && strings.Contains(s.LastError, w) && s.Pending == 1 && s.State == "failing":
				done++
			case s.Name == "huge" && s.Delivered == 1 && s.Pending == 0:
				done++
			}
		}
		if done == len(subs) {
			for _, s := range list.Subscriptions {
				t.Logf("%s: state %s, delivered %d, failed %d, pending %d, last error %q", s.Name, s.State, s.Delivered, s.Failed, s.Pending, s.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions never showed their failures: %+v", list.Subscriptions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := redirectTargetHit.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}
