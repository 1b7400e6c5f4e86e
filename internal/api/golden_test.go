package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

// updateGolden rewrites the expected responses of the golden tests:
//
//	go test ./internal/api -run TestGolden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The golden tests send each testdata/<Action>/<case>/request.json to a real
// server and compare the answer with the case's response file.
//
// A case directory holds:
//
//   - request.json: the raw request body, sent as is. It may be malformed on
//     purpose. The macro <<repeat N text>> expands to text repeated N times,
//     so huge bodies need no huge files.
//   - headers (optional): "Name: value" lines that replace the default
//     headers; an empty value removes the header. The pseudo-headers
//     ":method" and ":path" change the request line. Lines starting with #
//     are comments.
//   - setup (optional): "Action {json}" lines sent first, each of which must
//     succeed. The store is reset before every case.
//   - response: the status line, then the exact body on the next line.
//
// The default headers are those an SDK sends: X-Amz-Target
// AmazonSSM.<Action>, Content-Type application/x-amz-json-1.1 and a SigV4
// Authorization header for us-east-1, whose signature is not checked: the
// server runs with --dev, which accepts any signature.

const goldenAuth = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00"

// sensitiveMarker marks Values in case files that must not be echoed.
const sensitiveMarker = "s3cr3t"

var repeatMacro = regexp.MustCompile(`<<repeat (\d+) ([^>]*)>>`)

func expandRequest(raw []byte) []byte {
	return repeatMacro.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := repeatMacro.FindSubmatch(m)
		n, err := strconv.Atoi(string(sub[1]))
		if err != nil {
			panic(err) // the regexp only matches digits
		}
		return bytes.Repeat(sub[2], n)
	})
}

type goldenCase struct {
	action string
	dir    string
	method string
	path   string
	header http.Header
	body   []byte
	setup  []string
}

func loadGoldenCase(t *testing.T, action, dir string) goldenCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := goldenCase{
		action: action,
		dir:    dir,
		method: http.MethodPost,
		path:   "/",
		body:   expandRequest(raw),
		header: http.Header{
			"X-Amz-Target":  {"AmazonSSM." + action},
			"Content-Type":  {"application/x-amz-json-1.1"},
			"Authorization": {goldenAuth},
		},
	}
	if hdr, err := os.ReadFile(filepath.Join(dir, "headers")); err == nil {
		for _, line := range strings.Split(string(hdr), "\n") {
			if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
				continue
			}
			name, value, ok := strings.Cut(strings.TrimPrefix(line, ":"), ":")
			if !ok {
				t.Fatalf("%s/headers: bad line %q", dir, line)
			}
			value = strings.TrimSpace(value)
			switch {
			case strings.HasPrefix(line, ":method:"):
				c.method = value
			case strings.HasPrefix(line, ":path:"):
				c.path = value
			case value == "":
				c.header.Del(name)
			default:
				c.header.Set(name, value)
			}
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if setup, err := os.ReadFile(filepath.Join(dir, "setup")); err == nil {
		for _, line := range strings.Split(string(setup), "\n") {
			if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
				c.setup = append(c.setup, line)
			}
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return c
}

func TestGolden(t *testing.T) {
	_, endpoint := servertest.Start(t, func(c *server.Config) { c.Dev = true })
	client := &http.Client{Timeout: 30 * time.Second}

	actions, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range actions {
		if !a.IsDir() || a.Name() == "fuzz" {
			continue
		}
		cases, err := os.ReadDir(filepath.Join("testdata", a.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range cases {
			if !cs.IsDir() {
				continue
			}
			n++
			dir := filepath.Join("testdata", a.Name(), cs.Name())
			t.Run(a.Name()+"/"+cs.Name(), func(t *testing.T) {
				c := loadGoldenCase(t, a.Name(), dir)
				goldenReset(t, client, endpoint)
				for _, line := range c.setup {
					goldenSetup(t, client, endpoint, line)
				}
				resp := goldenDo(t, client, endpoint, c)
				// Cases put the marker s3cr3t in sensitive Values: it must
				// never come back in an error (spec §3.5, §5).
				if bytes.Contains(c.body, []byte(sensitiveMarker)) && bytes.Contains(resp.body, []byte(sensitiveMarker)) {
					t.Errorf("response echoes the sensitive value: %s", clip(string(resp.body)))
				}
				got := resp.status + "\n" + string(resp.body) + "\n"
				file := filepath.Join(dir, "response")
				if *updateGolden {
					if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("response mismatch for %s\ngot:\n%s\nwant:\n%s", dir, clip(got), clip(string(want)))
				}
				goldenAlive(t, client, endpoint)
			})
		}
	}
	if n < 30 {
		t.Fatalf("found %d golden cases under testdata, want at least 30", n)
	}
}

// clip shortens huge bodies in failure messages.
func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

type goldenResponse struct {
	status string // "HTTP/1.1 400 Bad Request"
	body   []byte
}

// goldenDo sends a case and checks what every API response must carry
// (spec §3.2, §3.4): a request ID, a Date, the JSON 1.1 content type, and
// for errors a JSON object with __type matching X-Amzn-ErrorType.
func goldenDo(t *testing.T, client *http.Client, endpoint string, c goldenCase) goldenResponse {
	t.Helper()
	req, err := http.NewRequest(c.method, endpoint+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if id := resp.Header.Get("x-amzn-RequestId"); id == "" {
		t.Errorf("no x-amzn-RequestId header")
	} else if _, err := uuid.Parse(id); err != nil {
		t.Errorf("x-amzn-RequestId %q is not a UUID: %v", id, err)
	}
	if d := resp.Header.Get("Date"); d == "" {
		t.Errorf("no Date header")
	} else if _, err := http.ParseTime(d); err != nil {
		t.Errorf("Date %q is not an HTTP date: %v", d, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("got Content-Type %q, want application/x-amz-json-1.1", ct)
	}
	if resp.StatusCode != http.StatusOK {
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("error body %q is not a JSON object: %v", clip(string(body)), err)
		}
		typ, _ := e["__type"].(string)
		if typ == "" {
			t.Errorf("error body %q has no __type", clip(string(body)))
		}
		if et := resp.Header.Get("X-Amzn-ErrorType"); et != typ {
			t.Errorf("got X-Amzn-ErrorType %q, want __type %q", et, typ)
		}
	}
	return goldenResponse{status: resp.Proto + " " + resp.Status, body: body}
}

func goldenReset(t *testing.T, client *http.Client, endpoint string) {
	t.Helper()
	resp, err := client.Post(endpoint+"/_paramstore/reset", "", nil)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset: got status %d, want 200", resp.StatusCode)
	}
}

func goldenSetup(t *testing.T, client *http.Client, endpoint, line string) {
	t.Helper()
	action, body, _ := strings.Cut(line, " ")
	c := goldenCase{
		method: http.MethodPost,
		path:   "/",
		body:   expandRequest([]byte(body)),
		header: http.Header{
			"X-Amz-Target":  {"AmazonSSM." + action},
			"Content-Type":  {"application/x-amz-json-1.1"},
			"Authorization": {goldenAuth},
		},
	}
	resp := goldenDo(t, client, endpoint, c)
	if !strings.HasSuffix(resp.status, " 200 OK") {
		t.Fatalf("setup %s: got %s %s, want 200", action, resp.status, clip(string(resp.body)))
	}
}

// goldenAlive checks that the server still serves after a bad request: the
// health endpoint answers and a well-formed call succeeds.
func goldenAlive(t *testing.T, client *http.Client, endpoint string) {
	t.Helper()
	resp, err := client.Get(endpoint + "/healthz")
	if err != nil {
		t.Fatalf("server down after the request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: got status %d, want 200", resp.StatusCode)
	}
	goldenSetup(t, client, endpoint, `DescribeParameters {"MaxResults": 1}`)
}

// TestGoldenHeaderParsing checks the case-file conventions the golden test
// relies on, so a typo in a headers file cannot silently send the defaults.
func TestGoldenHeaderParsing(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("request.json", `{"Value":"<<repeat 3 ab>>"}`)
	write("headers", "# comment\n:method: GET\n:path: /x/y\nX-Amz-Target:\nContent-Type: text/plain\n")
	c := loadGoldenCase(t, "GetParameter", dir)
	if c.method != "GET" || c.path != "/x/y" {
		t.Errorf("got %s %s, want GET /x/y", c.method, c.path)
	}
	if _, ok := c.header["X-Amz-Target"]; ok {
		t.Errorf("X-Amz-Target not removed: %v", c.header)
	}
	if got := c.header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("got Content-Type %q, want text/plain", got)
	}
	if got := c.header.Get("Authorization"); got != goldenAuth {
		t.Errorf("got Authorization %q, want the default", got)
	}
	if got := string(c.body); got != `{"Value":"ababab"}` {
		t.Errorf("got body %q, want the expanded macro", got)
	}
}
