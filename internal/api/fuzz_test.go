package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paramstore/paramstore/internal/api"
	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/store"
)

// fuzzStore applies commands straight to a store.DB with increasing log
// indexes: the state machine without raft, so a fuzz iteration costs one
// bbolt transaction.
type fuzzStore struct {
	db *store.DB

	mu    sync.Mutex // serializes Apply, as raft's FSM goroutine does
	index uint64
}

var _ service.Store = (*fuzzStore)(nil)

func (s *fuzzStore) View(ctx context.Context, fn func(r *store.Reader) error) error {
	return s.db.View(ctx, fn)
}

func (s *fuzzStore) Apply(ctx context.Context, cmd *store.Command) error {
	data, err := cmd.Marshal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index++
	return s.db.ApplyBatch([]store.Entry{{Index: s.index, Data: data}})[0]
}

// newFuzzHandler builds the real API handler over a real service and a
// state machine in a temporary directory; opts adjust its configuration.
func newFuzzHandler(t testing.TB, opts ...func(*api.Config)) *api.Handler {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, err := crypto.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{Store: &fuzzStore{db: db}, Keyring: kr, Limits: service.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Config{Store: &fuzzStore{db: db}, Keyring: kr, Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Service: svc, Auth: authn, NoAuth: true, Account: "123456789012", DefaultRegion: "us-east-1"}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fuzzOps are the targets a fuzz input picks from by its first byte; other
// values use the raw target string of the input.
var fuzzOps = []string{
	"PutParameter", "GetParameter", "GetParameters", "GetParametersByPath",
	"GetParameterHistory", "DescribeParameters", "DeleteParameter", "DeleteParameters",
	"LabelParameterVersion", "UnlabelParameterVersion", "AddTagsToResource",
	"RemoveTagsFromResource", "ListTagsForResource", "GetServiceSetting",
	"UpdateServiceSetting", "ResetServiceSetting",
}

// FuzzHandler feeds arbitrary bodies and targets to the API handler. Any
// input must get an AWS-shaped answer: 200, or 400/404/413 with a JSON
// object carrying __type. A 500 means a request reached a code path that
// fails internally, which no input may do.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		op     byte
		target string
		body   string
	}{
		{0, "", `{"Name": "/a/b", "Value": "v", "Type": "String"}`},
		{0, "", `{"Name": "/a/b", "Value": "v2", "Type": "SecureString", "Overwrite": true}`},
		{0, "", `{"Name": "x", "Value": "v", "Type": "StringList", "Tags": [{"Key": "k", "Value": "v"}]}`},
		{0, "", `{"Name": "/p", "Value": "v", "Type": "String", "Tier": "Advanced", "Policies": "[{\"Type\":\"Expiration\",\"Version\":\"1.0\",\"Attributes\":{\"Timestamp\":\"2030-01-01T00:00:00Z\"}}]"}`},
		{0, "", `{"Name": "/k", "Value": "v", "Type": "SecureString", "KeyId": "arn:aws:kms:us-east-1:123456789012:alias/x"}`},
		{0, "", `{"Name": "/ami", "Value": "ami-12345678", "Type": "String", "DataType": "aws:ec2:image", "AllowedPattern": "ami-.*"}`},
		{1, "", `{"Name": "/a/b", "WithDecryption": true}`},
		{1, "", `{"Name": "/a/b:1"}`},
		{1, "", `{"Name": "arn:aws:ssm:us-east-1:123456789012:parameter/a/b:lbl"}`},
		{2, "", `{"Names": ["/a/b", "x", "/a/b:9", "bad//name"], "WithDecryption": true}`},
		{3, "", `{"Path": "/", "Recursive": true, "MaxResults": 1, "ParameterFilters": [{"Key": "Label", "Values": ["l"]}]}`},
		{3, "", `{"Path": "/a", "NextToken": "x.y"}`},
		{4, "", `{"Name": "/a/b", "MaxResults": 1, "WithDecryption": true}`},
		{5, "", `{"ParameterFilters": [{"Key": "tag:k"}, {"Key": "Path", "Option": "Recursive", "Values": ["/a"]}]}`},
		{5, "", `{"Filters": [{"Key": "Name", "Values": ["x"]}], "MaxResults": 50}`},
		{6, "", `{"Name": "x"}`},
		{7, "", `{"Names": ["/a/b", "/a/b", "nope"]}`},
		{8, "", `{"Name": "/a/b", "ParameterVersion": 1, "Labels": ["l", "1bad", "awsx"]}`},
		{9, "", `{"Name": "/a/b", "ParameterVersion": 1, "Labels": ["l"]}`},
		{10, "", `{"ResourceType": "Parameter", "ResourceId": "/a/b", "Tags": [{"Key": "k", "Value": "v"}]}`},
		{11, "", `{"ResourceType": "Parameter", "ResourceId": "/a/b", "TagKeys": ["k"]}`},
		{12, "", `{"ResourceType": "Parameter", "ResourceId": "x"}`},
		{13, "", `{"SettingId": "arn:aws:ssm:us-east-1:123456789012:servicesetting/ssm/parameter-store/default-parameter-tier"}`},
		{14, "", `{"SettingId": "/ssm/parameter-store/default-parameter-tier", "SettingValue": "Intelligent-Tiering"}`},
		{15, "", `{"SettingId": "/ssm/parameter-store/high-throughput-enabled"}`},
		{255, "AmazonSSM.SendCommand", `{}`},
		{255, "", ``},
		{1, "", `{"Name": 5}`},
		{1, "", `["x"]`},
		{1, "", `{"Name": "/a/b"`},
		{1, "", "{\"Name\": \"/a/\xff\"}"},
		{0, "", `{"Name": "/a/b", "Value": "v", "Type": "String", "Tags": [{"Key": null, "Value": null}]}`},
		{5, "", `{"ParameterFilters": [{"Key": null, "Values": null}], "Filters": [{"Key": null}]}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.target, []byte(s.body))
	}
	h := newFuzzHandler(f)
	f.Fuzz(func(t *testing.T, op byte, target string, body []byte) {
		if int(op) < len(fuzzOps) {
			target = "AmazonSSM." + fuzzOps[op]
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Authorization", goldenAuth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("target %q body %q: got status %d, want 200/400/404/413; body %s", target, body, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Fatalf("got Content-Type %q", ct)
		}
		if rec.Header().Get("x-amzn-RequestId") == "" {
			t.Fatalf("no x-amzn-RequestId")
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("target %q body %q: response is not JSON: %q", target, body, rec.Body)
		}
		if rec.Code == http.StatusOK {
			if !strings.HasPrefix(target, "AmazonSSM.") {
				t.Fatalf("target %q answered 200", target)
			}
			return
		}
		var e map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("error body %q is not an object: %v", rec.Body, err)
		}
		if typ, _ := e["__type"].(string); typ == "" {
			t.Fatalf("error body %q has no __type", rec.Body)
		}
	})
}
