package api_test

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
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/api"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

// poller long-polls the change stream with one keep-alive connection, and
// records whether each poll reused it.
type poller struct {
	t      *testing.T
	ep     string
	hc     *http.Client
	reused []bool
}

func newPoller(t *testing.T, ep string) *poller {
	return &poller{t: t, ep: ep, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
}

func (p *poller) poll(query string) (int, changesPage, http.Header) {
	p.t.Helper()
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { p.reused = append(p.reused, i.Reused) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, p.ep+"/_paramstore/changes?"+query, nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := p.hc.Do(req)
	if err != nil {
		p.t.Errorf("poll %s: %v", query, err)
		return 0, changesPage{}, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var page changesPage
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &page); err != nil {
			p.t.Errorf("decode %s: %v", raw, err)
		}
	}
	return resp.StatusCode, page, resp.Header
}

func putParam(t *testing.T, c *ssm.Client, name, value string) {
	t.Helper()
	if _, err := c.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value),
		Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

// metric reads one unlabelled metric of the server.
func metric(t testing.TB, ep, name string) string {
	t.Helper()
	resp, err := http.Get(ep + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

func waitMetric(t testing.TB, ep, name, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for got := metric(t, ep, name); got != want; got = metric(t, ep, name) {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want %s", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChangeStreamParked: waiting long polls are parked in the hub (the
// watchers gauge counts them); a change wakes those whose path it is
// under, with the same page, and nobody else; each answered connection
// goes back to the HTTP server and carries the client's next poll.
func TestChangeStreamParked(t *testing.T) {
	_, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	_, start, _ := newPoller(t, ep).poll("path=/")
	const n = 20
	type result struct {
		page   changesPage
		status int
		p      *poller
	}
	app, other := make(chan result, n), make(chan result, n)
	for i := range 2 * n {
		p := newPoller(t, ep)
		path, out := "/hub/app", app
		if i%2 == 1 {
			path, out = "/hub/other", other
		}
		go func() {
			status, page, _ := p.poll(fmt.Sprintf("path=%s&since=%d&wait=30", path, start.Index))
			out <- result{page, status, p}
		}()
	}
	waitMetric(t, ep, "paramstore_changes_watchers", fmt.Sprint(2*n))
	putParam(t, c, "/hub/app/x", "1")
	var first string
	for range n {
		r := <-app
		b, _ := json.Marshal(r.page)
		if r.status != 200 || len(r.page.Changes) != 1 || r.page.Changes[0].Name != "/hub/app/x" {
			t.Fatalf("watcher of /hub/app: %d %s, want the change of /hub/app/x", r.status, b)
		}
		if first == "" {
			first = string(b)
		} else if string(b) != first {
			t.Errorf("watchers of one path got different pages: %s and %s", first, b)
		}
		// The connection carries the next poll.
		if status, _, _ := r.p.poll(fmt.Sprintf("path=/hub/app&since=%d&wait=0", r.page.Index)); status != 200 {
			t.Errorf("next poll: status %d", status)
		}
		if len(r.p.reused) != 2 || !r.p.reused[1] {
			t.Errorf("connection reuse of the polls: %v, want [false true]", r.p.reused)
		}
	}
	waitMetric(t, ep, "paramstore_changes_watchers", fmt.Sprint(n))
	select {
	case r := <-other:
		t.Fatalf("a watcher of /hub/other was answered: %+v", r.page)
	default:
	}
	putParam(t, c, "/hub/other/deep/y", "1")
	for range n {
		if r := <-other; len(r.page.Changes) != 1 || r.page.Changes[0].Name != "/hub/other/deep/y" {
			t.Fatalf("watcher of /hub/other: %+v", r.page)
		}
	}
	waitMetric(t, ep, "paramstore_changes_watchers", "0")

	// A poll with nothing to report answers at its deadline, empty.
	p := newPoller(t, ep)
	_, now, _ := p.poll("path=/")
	if status, page, _ := p.poll(fmt.Sprintf("path=/quiet&since=%d&wait=0.3", now.Index)); status != 200 || len(page.Changes) != 0 || page.Index < now.Index {
		t.Errorf("quiet poll: %d %+v", status, page)
	}
}

// TestChangeStreamWatcherLimit: a node at its --max-watchers answers the
// next long poll ServiceUnavailable (503, AWS-shaped, Retry-After), and
// takes watchers again once some are answered.
func TestChangeStreamWatcherLimit(t *testing.T) {
	_, ep := servertest.Start(t, func(c *server.Config) { c.MaxWatchers = 2 })
	c := servertest.Client(t, ep, "us-east-1")
	putParam(t, c, "/lim/before", "1")
	_, start, _ := newPoller(t, ep).poll("path=/")
	done := make(chan changesPage, 2)
	for range 2 {
		go func() {
			_, page, _ := newPoller(t, ep).poll(fmt.Sprintf("path=/lim&since=%d&wait=30", start.Index))
			done <- page
		}()
	}
	waitMetric(t, ep, "paramstore_changes_watchers", "2")
	status, _, hdr := newPoller(t, ep).poll(fmt.Sprintf("path=/lim&since=%d&wait=30", start.Index))
	if status != http.StatusServiceUnavailable || hdr.Get("X-Amzn-Errortype") != "ServiceUnavailable" || hdr.Get("Retry-After") == "" {
		t.Fatalf("third watcher: status %d, headers %v; want 503 ServiceUnavailable with Retry-After", status, hdr)
	}
	// A poll that has something to answer does not wait, and is served.
	if status, _, _ := newPoller(t, ep).poll("path=/lim&since=1&wait=30"); status != 200 {
		t.Errorf("a poll with changes to report at the limit: status %d, want 200", status)
	}
	putParam(t, c, "/lim/a", "1")
	for range 2 {
		if p := <-done; len(p.Changes) != 1 {
			t.Fatalf("parked watcher: %+v", p)
		}
	}
	go func() {
		_, page, _ := newPoller(t, ep).poll(fmt.Sprintf("path=/lim&since=%d&wait=30", start.Index+1000))
		done <- page
	}()
	waitMetric(t, ep, "paramstore_changes_watchers", "1")
}

// TestChangeStreamSlowReader: a client that pipelines long polls and never
// reads its socket (a small receive buffer) stalls only itself: writes go
// on, and another watcher sees every change.
func TestChangeStreamSlowReader(t *testing.T) {
	_, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	p := newPoller(t, ep)
	_, start, _ := p.poll("path=/")

	d := net.Dialer{Control: nil}
	conn, err := d.Dial("tcp", strings.TrimPrefix(ep, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	var reqs strings.Builder
	for range 200 {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/_paramstore/changes?path=/slow&since=%d&wait=30", ep, start.Index), nil)
		sum := sha256.Sum256(nil)
		v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "x"}, req, hex.EncodeToString(sum[:]), "ssm", "us-east-1", time.Now())
		req.Write(&reqs)
	}
	if _, err := io.WriteString(conn, reqs.String()); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, ep, "paramstore_changes_watchers", "1") // its first poll waits

	// Another watcher follows while ~150 KB pages pile up for the stalled one.
	const writes = 300
	long := strings.Repeat("n", 500)
	var wg sync.WaitGroup
	seen := map[string]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		since := start.Index
		for len(seen) < writes {
			status, page, _ := p.poll(fmt.Sprintf("path=/slow&since=%d&wait=30", since))
			if status != 200 {
				t.Errorf("follower: status %d", status)
				return
			}
			for _, ch := range page.Changes {
				seen[ch.Name] = true
			}
			since = page.Index
		}
	}()
	for i := range writes {
		putParam(t, c, fmt.Sprintf("/slow/%s%03d", long, i), "v")
	}
	wg.Wait()
	if len(seen) != writes {
		t.Fatalf("the follower saw %d of %d changes", len(seen), writes)
	}
}

// TestChangeStreamStreaming: stream=true answers one chunked response of
// NDJSON pages: the changes as they commit, in order, each once, and a
// heartbeat page (the index) every wait; the stream counts as a watcher
// until its client goes.
func TestChangeStreamStreaming(t *testing.T) {
	_, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	_, start, _ := newPoller(t, ep).poll("path=/")
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/_paramstore/changes?path=/st&since=%d&wait=1&stream=true", ep, start.Index), nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("stream: status %d, Content-Type %q", resp.StatusCode, ct)
	}
	waitMetric(t, ep, "paramstore_changes_watchers", "1")
	dec := json.NewDecoder(resp.Body)
	var names []string
	heartbeats := 0
	last := start.Index
	for i := 0; len(names) < 6; i++ {
		if i < 3 {
			putParam(t, c, fmt.Sprintf("/st/a%d", i), "1")
			putParam(t, c, fmt.Sprintf("/other/b%d", i), "1")
			putParam(t, c, fmt.Sprintf("/st/deep/c%d", i), "1")
		}
		var page changesPage
		if err := dec.Decode(&page); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if page.Index < last {
			t.Fatalf("page %d: index %d went back from %d", i, page.Index, last)
		}
		last = page.Index
		if len(page.Changes) == 0 {
			heartbeats++
		}
		for _, ch := range page.Changes {
			names = append(names, ch.Name)
		}
	}
	if want := "/st/a0 /st/deep/c0 /st/a1 /st/deep/c1 /st/a2 /st/deep/c2"; strings.Join(names, " ") != want {
		t.Fatalf("stream carried %v, want %s", names, want)
	}
	// Nothing more happens: heartbeats.
	for heartbeats < 2 {
		var page changesPage
		if err := dec.Decode(&page); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if len(page.Changes) != 0 || page.Index < last {
			t.Fatalf("heartbeat: %+v", page)
		}
		heartbeats++
	}
	resp.Body.Close()
	waitMetric(t, ep, "paramstore_changes_watchers", "0") // found gone at its next heartbeat
}

// TestChangeStreamStreamRefusedAfterPages: a stream that has pages to send
// at once and is then refused (the node at its --max-watchers) is cut
// after those pages; the request is never answered a second time (an
// "unsolicited" 503 after the 200 broke clients' connections).
func TestChangeStreamStreamRefusedAfterPages(t *testing.T) {
	_, ep := servertest.Start(t, func(c *server.Config) { c.MaxWatchers = 1 })
	c := servertest.Client(t, ep, "us-east-1")
	_, start, _ := newPoller(t, ep).poll("path=/")
	putParam(t, c, "/cut/a", "1")
	go newPoller(t, ep).poll(fmt.Sprintf("path=/elsewhere&since=%d&wait=30", start.Index+1000))
	waitMetric(t, ep, "paramstore_changes_watchers", "1")

	conn, err := net.Dial("tcp", strings.TrimPrefix(ep, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/_paramstore/changes?path=/cut&since=%d&wait=30&stream=true", ep, start.Index), nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	raw, _ := io.ReadAll(conn) // until the server cuts it
	got := string(raw)
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK") || !strings.Contains(got, `"/cut/a"`) {
		t.Fatalf("stream: got %q, want a 200 stream carrying /cut/a", got)
	}
	if n := strings.Count(got, "HTTP/1.1 "); n != 1 {
		t.Fatalf("the request was answered %d times: %q", n, got)
	}
}

// TestChangeStreamStuckStreams: streams whose clients stop reading, more
// of them than the server has answer workers, delay no other stream: while
// their pages wait for them (paramstore_changes_streams_lagging counts
// them) a follower still sees every change; once they go, their streams
// end.
func TestChangeStreamStuckStreams(t *testing.T) {
	api.SetStreamPatience(t, 10*time.Minute) // the stuck ones are not cut during the test
	_, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	_, start, _ := newPoller(t, ep).poll("path=/")
	target := fmt.Sprintf("%s/_paramstore/changes?path=/stuck&since=%d&wait=60&stream=true", ep, start.Index)
	const auth = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00"

	const stuck = 4
	var conns []net.Conn
	for range stuck {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ep, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(4096)
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", auth)
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	waitMetric(t, ep, "paramstore_changes_watchers", strconv.Itoa(stuck))

	// (A heartbeat every second: the answer's head goes with the first page.)
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(target, "wait=60", "wait=1", 1), nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pages := make(chan changesPage)
	go func() {
		defer close(pages)
		dec := json.NewDecoder(resp.Body)
		for {
			var p changesPage
			if dec.Decode(&p) != nil {
				return
			}
			pages <- p
		}
	}()
	waitMetric(t, ep, "paramstore_changes_watchers", strconv.Itoa(stuck+1))

	// Changes of ~1 KB each, until every stuck stream lags (its socket
	// buffers full), then a few more: the follower sees each one.
	long := strings.Repeat("n", 900)
	var names []string
	put := func() {
		name := fmt.Sprintf("/stuck/%s%05d", long, len(names))
		names = append(names, name)
		putParam(t, c, name, "v")
		for {
			select {
			case p, ok := <-pages:
				if !ok {
					t.Fatalf("the follower's stream ended")
				}
				for _, ch := range p.Changes {
					if ch.Name == name {
						return
					}
				}
			case <-time.After(time.Minute): // a guard against a hang, not a latency bound
				t.Fatalf("the follower did not get change %d while %s streams were stuck (lagging: %s)", len(names), strconv.Itoa(stuck), metric(t, ep, "paramstore_changes_streams_lagging"))
			}
		}
	}
	for metric(t, ep, "paramstore_changes_streams_lagging") != strconv.Itoa(stuck) {
		if len(names) >= 3000 {
			t.Fatalf("after %d changes of 1 KB, paramstore_changes_streams_lagging = %s, want %d", len(names), metric(t, ep, "paramstore_changes_streams_lagging"), stuck)
		}
		put()
	}
	t.Logf("%d changes until %d streams lagged", len(names), stuck)
	for range 5 {
		put()
	}

	// The stuck clients go: their streams end, nobody lags.
	for _, conn := range conns {
		conn.Close()
	}
	waitMetric(t, ep, "paramstore_changes_streams_lagging", "0")
	waitMetric(t, ep, "paramstore_changes_watchers", "1")
}

// TestChangeStreamAnswerWorkersLeaveAProcessor: the goroutines that write
// a fan-out never take every processor (GOMAXPROCS), so that the network
// poller runs during a fan-out and writes' requests and raft replies are
// not left waiting for the scheduler's 10 ms forced poll; there is always
// one.
func TestChangeStreamAnswerWorkersLeaveAProcessor(t *testing.T) {
	for procs, want := range map[int]int{1: 1, 2: 1, 4: 3, 8: 7, 64: 63} {
		if got := api.AnswerWorkers(procs); got != want {
			t.Errorf("with GOMAXPROCS %d: %d answer workers, want %d", procs, got, want)
		}
	}
}
