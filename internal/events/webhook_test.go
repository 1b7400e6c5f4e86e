package events_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

const region = "us-east-1"

// fastRetries makes failed deliveries retry quickly.
func fastRetries(c *server.Config) {
	c.Events = events.DefaultConfig()
	c.Events.BackoffMin = time.Millisecond
	c.Events.BackoffMax = 20 * time.Millisecond
	c.Events.Poll = 20 * time.Millisecond
}

// admin calls Paramstore.<op> signed with SigV4.
func admin(t testing.TB, endpoint, op string, in, out any) error {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "Paramstore."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ssm", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// receiver is a real webhook receiver that verifies signatures.
type receiver struct {
	t      testing.TB
	secret []byte
	srv    *httptest.Server

	mu      sync.Mutex
	down    bool // answer 503
	events  []events.Event
	bodies  []string
	ids     map[string]int
	badSigs int
	fails   int
	got     chan struct{} // a token per accepted event
	failed  chan struct{} // a token per refused attempt
}

func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), ids: map[string]int{}, got: make(chan struct{}, 100000), failed: make(chan struct{}, 100000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		r.fails++
		w.WriteHeader(http.StatusServiceUnavailable)
		r.failed <- struct{}{}
		return
	}
	if !events.Verify(r.secret, body, req.Header.Get("X-Paramstore-Signature")) {
		r.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("receiver: %v", err)
	}
	if req.Header.Get("X-Paramstore-Event-Id") != ev.ID {
		r.t.Errorf("X-Paramstore-Event-Id %q, body id %q", req.Header.Get("X-Paramstore-Event-Id"), ev.ID)
	}
	r.ids[ev.ID]++
	r.events = append(r.events, ev)
	r.bodies = append(r.bodies, string(body))
	r.got <- struct{}{}
}

func (r *receiver) setDown(d bool) {
	r.mu.Lock()
	r.down = d
	r.mu.Unlock()
}

// await waits for n more accepted events (the test's deadline bounds it).
func (r *receiver) await(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-r.got:
		case <-timeout:
			t.Fatalf("receiver got %d of %d events", i, n)
		}
	}
}

func (r *receiver) snapshot() ([]events.Event, []string, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := map[string]int{}
	for k, v := range r.ids {
		ids[k] = v
	}
	return append([]events.Event(nil), r.events...), append([]string(nil), r.bodies...), ids
}

func detailOf(t testing.TB, ev events.Event) map[string]any {
	var d map[string]any
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWebhookEveryOperation(t *testing.T) {
	_, endpoint := servertest.Start(t, fastRetries)
	rcv := newReceiver(t, "s3cret")
	var put events.PutOutput
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "all", "Url": rcv.srv.URL, "Secret": "s3cret"}, &put); err != nil {
		t.Fatal(err)
	}
	if put.GeneratedSecret != "" {
		t.Fatalf("a secret was generated although one was given")
	}
	ctx := context.Background()
	c := servertest.Client(t, endpoint, region)
	name := "/app/db/url"
	steps := []func() error{
		func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: &name, Value: aws.String("v1"), Type: types.ParameterTypeString, Description: aws.String("the db")})
			return err
		},
		func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: &name, Value: aws.String("v2"), Overwrite: aws.Bool(true)})
			return err
		},
		func() error {
			_, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: &name, ParameterVersion: aws.Int64(1), Labels: []string{"prod"}})
			return err
		},
		func() error {
			_, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: &name, Labels: []string{"prod"}})
			return err
		},
		func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/pw"), Value: aws.String("hunter2-secret-value"), Type: types.ParameterTypeSecureString})
			return err
		},
		func() error {
			_, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: &name})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	rcv.await(t, len(steps))
	evs, bodies, ids := rcv.snapshot()
	type want struct {
		op, name, typ, desc, label, from, to string
	}
	wants := []want{
		{"Create", name, "String", "the db", "", "", "1"},
		{"Update", name, "String", "the db", "", "", "2"},
		{"LabelParameterVersion", name, "String", "the db", "prod", "", "1"},
		{"LabelParameterVersion", name, "String", "the db", "prod", "1", "2"},
		{"Create", "/app/pw", "SecureString", "", "", "", "1"},
		{"Delete", name, "String", "the db", "", "2", ""},
	}
	for i, w := range wants {
		ev := evs[i]
		d := detailOf(t, ev)
		got := want{fmt.Sprint(d["operation"]), fmt.Sprint(d["name"]), fmt.Sprint(d["type"]), fmt.Sprint(d["description"]),
			str(d["label"]), str(d["fromVersion"]), str(d["toVersion"])}
		if got != w {
			t.Errorf("event %d: got %+v, want %+v", i, got, w)
		}
		arn := "arn:aws:ssm:us-east-1:123456789012:parameter/" + strings.TrimPrefix(w.name, "/")
		if ev.Version != "0" || ev.DetailType != "Parameter Store Change" || ev.Source != "aws.ssm" || ev.Account != "123456789012" ||
			ev.Region != region || len(ev.Resources) != 1 || ev.Resources[0] != arn || ev.ID == "" {
			t.Errorf("event %d envelope: %s", i, bodies[i])
		}
		if _, err := time.Parse(time.RFC3339, ev.Time); err != nil {
			t.Errorf("event %d time %q: %v", i, ev.Time, err)
		}
		t.Logf("receiver log: %s", bodies[i])
	}
	if len(ids) != len(steps) {
		t.Errorf("%d distinct ids for %d events", len(ids), len(steps))
	}
	for _, b := range bodies {
		if strings.Contains(b, "hunter2") || strings.Contains(b, "v2\"") {
			t.Errorf("an event carries a value: %s", b)
		}
	}
	var list events.ListOutput
	if err := admin(t, endpoint, "ListNotifications", struct{}{}, &list); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(list)
	if strings.Contains(string(raw), "s3cret") || len(list.Subscriptions) != 1 || list.Subscriptions[0].Delivered+uint64(list.Subscriptions[0].Pending) != uint64(len(steps)) {
		t.Errorf("list: %s", raw)
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// A receiver that is down for a while gets every event, in order, once it
// is back; duplicates are counted and reported.
func TestWebhookReceiverOutage(t *testing.T) {
	_, endpoint := servertest.Start(t, fastRetries)
	rcv := newReceiver(t, "k")
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "r", "Url": rcv.srv.URL, "Secret": "k"}, nil); err != nil {
		t.Fatal(err)
	}
	rcv.setDown(true)
	ctx := context.Background()
	c := servertest.Client(t, endpoint, region)
	const n = 50
	for i := 0; i < n; i++ {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/outage/p"), Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Down for at least 20 refused attempts.
	for i := 0; i < 20; i++ {
		<-rcv.failed
	}
	var list events.ListOutput
	if err := admin(t, endpoint, "ListNotifications", struct{}{}, &list); err != nil {
		t.Fatal(err)
	}
	if s := list.Subscriptions[0]; s.State != "failing" || !strings.Contains(s.LastError, "503") || s.Pending != n {
		t.Errorf("during the outage: %+v", s)
	}
	rcv.setDown(false)
	rcv.await(t, n)
	evs, _, ids := rcv.snapshot()
	dups := len(evs) - len(ids)
	last := int64(0)
	for _, ev := range evs {
		v := detailOf(t, ev)["toVersion"]
		var ver int64
		fmt.Sscan(fmt.Sprint(v), &ver)
		if ver < last {
			t.Errorf("out of order: version %s after %d", v, last)
		}
		last = ver
	}
	if len(ids) != n || last != n {
		t.Errorf("got %d distinct events up to version %d, want %d", len(ids), last, n)
	}
	rcv.mu.Lock()
	fails := rcv.fails
	rcv.mu.Unlock()
	t.Logf("outage: %d refused attempts, %d events delivered, %d duplicates", fails, len(evs), dups)
}

// TestWebhookLongOutage is the receiver outage with the default retry
// settings (backoff up to 30 s) and a real outage length, writes going on
// all along: PARAMSTORE_WEBHOOK_OUTAGE=30s go test -run LongOutage -v.
func TestWebhookLongOutage(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("PARAMSTORE_WEBHOOK_OUTAGE"))
	if err != nil {
		t.Skip("set PARAMSTORE_WEBHOOK_OUTAGE (e.g. 30s)")
	}
	_, endpoint := servertest.Start(t)
	rcv := newReceiver(t, "k")
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "r", "Url": rcv.srv.URL, "Secret": "k"}, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := servertest.Client(t, endpoint, region)
	put := func(i int) {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/outage/p"), Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for ; n < 20; n++ { // before: delivered as they come
		put(n)
	}
	rcv.setDown(true)
	start := time.Now()
	for time.Since(start) < d {
		put(n)
		n++
		time.Sleep(100 * time.Millisecond)
	}
	rcv.setDown(false)
	back := time.Now()
	for i := 0; i < 20; i++ { // after
		put(n)
		n++
	}
	rcv.await(t, n)
	caughtUp := time.Since(back)
	evs, _, ids := rcv.snapshot()
	last := int64(0)
	for _, ev := range evs {
		var ver int64
		fmt.Sscan(fmt.Sprint(detailOf(t, ev)["toVersion"]), &ver)
		if ver < last {
			t.Errorf("out of order: %d after %d", ver, last)
		}
		last = ver
	}
	rcv.mu.Lock()
	fails := rcv.fails
	rcv.mu.Unlock()
	if len(ids) != n {
		t.Errorf("%d distinct events, want %d", len(ids), n)
	}
	t.Logf("outage %v: %d events written, %d refused attempts during it, %d deliveries of %d distinct events, %d duplicates, in order; caught up %v after the receiver came back",
		d, n, fails, len(evs), len(ids), len(evs)-len(ids), caughtUp.Round(time.Millisecond))
}
