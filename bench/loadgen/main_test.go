package main

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRequestBodies: each operation's body is the SSM call it names, with
// the fields the old map-built bodies had, appended to the buffer given.
func TestRequestBodies(t *testing.T) {
	g := &gen{value: strings.Repeat("x", 8), prefix: "/lg", params: 1}
	var seq atomic.Int64
	rng := rand.New(rand.NewPCG(1, 2))
	for op, want := range map[string]struct {
		target string
		body   map[string]any
	}{
		"get":       {"GetParameter", map[string]any{"Name": "/lg/p0000000"}},
		"getsecure": {"GetParameter", map[string]any{"Name": "/lg-secure/p0000000", "WithDecryption": true}},
		"bypath":    {"GetParametersByPath", map[string]any{"Path": "/lg", "MaxResults": 10.0}},
		"put":       {"PutParameter", map[string]any{"Name": "/lg/p0000000", "Value": "xxxxxxxx", "Type": "String", "Overwrite": true}},
		"describe": {"DescribeParameters", map[string]any{"MaxResults": 10.0,
			"ParameterFilters": []any{map[string]any{"Key": "Path", "Option": "Recursive", "Values": []any{"/lg"}}}}},
	} {
		target, body := g.request([]byte("prefix:"), op, rng, &seq)
		rest, ok := strings.CutPrefix(string(body), "prefix:")
		if !ok {
			t.Fatalf("%s: the body did not append to the buffer: %q", op, body)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(rest), &got); err != nil {
			t.Fatalf("%s: %v: %s", op, err, rest)
		}
		if target != want.target || !reflect.DeepEqual(got, want.body) {
			t.Errorf("%s: %s %v, want %s %v", op, target, got, want.target, want.body)
		}
	}
	_, body := g.request(nil, "putnew", rng, &seq)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if name, _ := got["Name"].(string); !strings.HasPrefix(name, "/lg-new/") || got["Overwrite"] != nil || got["Type"] != "String" {
		t.Errorf("putnew: %v, want a new name under /lg-new/, no Overwrite", got)
	}
}

// TestPreparedReads: the read bodies prepared before the load are the
// ones encoded on demand, for every parameter and both read calls.
func TestPreparedReads(t *testing.T) {
	lazy := &gen{prefix: "/loadgen", params: 20}
	prepared := &gen{prefix: "/loadgen", params: 20}
	prepared.prepareReads([]weight{{"put", 1}, {"getsecure", 1}})
	if prepared.reads == nil {
		t.Fatal("no bodies prepared for a mix with getsecure")
	}
	for i := range 20 {
		for _, op := range []string{"get", "getsecure"} {
			if got, want := string(prepared.readBody(op, i)), string(lazy.readBody(op, i)); got != want {
				t.Errorf("%s %d: %s, want %s", op, i, got, want)
			}
		}
	}
	if got := string(lazy.readBody("getsecure", 7)); got != `{"Name":"/loadgen-secure/p0000007","WithDecryption":true}` {
		t.Errorf("getsecure 7: %s", got)
	}
	none := &gen{prefix: "/loadgen", params: 20}
	if none.prepareReads([]weight{{"put", 1}}); none.reads != nil {
		t.Error("bodies prepared for a mix without reads")
	}
}
