package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestLookup writes a trail with the sink, with lines longer than the
// backward reader's chunk, and reads it back newest first with filters
// and pages, checking that no value is in what Lookup returns.
func TestLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(cfg, Options{HMACKey: testKey, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "the-secret-value"
	long := strings.Repeat("d", backwardChunk+100)
	for i := 0; i < 30; i++ {
		rec := Record{EventName: "GetParameter", UserAgent: "ua", AWSRegion: "us-east-1",
			UserIdentity:      UserIdentity{Type: IdentityIAMUser, UserName: "alice", AccessKeyID: "AKALICE"},
			RequestParameters: map[string]any{"Name": fmt.Sprintf("/app/p%02d", i), "WithDecryption": i%2 == 0},
			ResponseElements:  map[string]any{"Parameter": map[string]any{"Value": secret}}, ReadOnly: true}
		if i%3 == 0 {
			rec.EventName = "PutParameter"
			rec.UserIdentity = UserIdentity{Type: IdentityRoot, ARN: "arn:aws:iam::123456789012:root", AccessKeyID: "AKROOT"}
			rec.RequestParameters = map[string]any{"Name": fmt.Sprintf("/app/p%02d", i), "Value": secret, "Description": long}
			intent := rec
			intent.EventType = EventTypeIntent
			if err := s.Log(context.Background(), intent, Durable); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Log(context.Background(), rec, Durable); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(path)
	if err != nil || len(files) != 1 {
		t.Fatalf("Files: got %v %v, want the trail", files, err)
	}

	names := func(evs []Event) string {
		var b []string
		for _, e := range evs {
			b = append(b, e.EventName+" "+strings.Join(e.Names, ","))
		}
		return strings.Join(b, "; ")
	}
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"newest first", Query{Max: 3}, "GetParameter /app/p29; GetParameter /app/p28; PutParameter /app/p27"},
		{"operation", Query{EventName: "PutParameter", Max: 2}, "PutParameter /app/p27; PutParameter /app/p24"},
		{"user", Query{User: "AKROOT", Max: 1}, "PutParameter /app/p27"},
		{"user name", Query{User: "alice", Name: "/app/p0"}, "GetParameter /app/p08; GetParameter /app/p07; GetParameter /app/p05; GetParameter /app/p04; GetParameter /app/p02; GetParameter /app/p01"},
		{"nothing", Query{Name: "/other"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, _, err := Lookup(files, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(evs); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			b, _ := json.Marshal(evs)
			if strings.Contains(string(b), secret) || strings.Contains(string(b), HMACPrefix) || strings.Contains(string(b), long[:64]) {
				t.Errorf("events hold a request value: %s", b)
			}
		})
	}

	// Pages of 7 cover the 30 calls once each, in order.
	var all []Event
	token := ""
	for pages := 0; ; pages++ {
		evs, next, err := Lookup(files, Query{Max: 7, After: token})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pages do not end")
		}
		token = next
	}
	if len(all) != 30 || all[0].Names[0] != "/app/p29" || all[29].Names[0] != "/app/p00" {
		t.Errorf("pages: got %d events (%s), want the 30 calls newest first", len(all), names(all))
	}
	if _, _, err := Lookup(files, Query{After: "garbage"}); err == nil {
		t.Error("a made-up NextToken: got no error")
	}
}

// FuzzLookupToken: any NextToken is refused or pages without a panic.
func FuzzLookupToken(f *testing.F) {
	path := filepath.Join(f.TempDir(), "audit.log")
	cfg := DefaultConfig()
	cfg.Path = path
	s, err := Open(cfg, Options{HMACKey: testKey})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := s.Log(context.Background(), Record{EventName: "GetParameter", RequestParameters: map[string]any{"Name": "/a"}}, Durable); err != nil {
			f.Fatal(err)
		}
	}
	s.Close()
	for _, seed := range []string{"", "1/x", "1796047442465/380d8ee1-e9fa-437e-86a7-ad81c48d7de0", "/", "-1/a", "99999999999999999999/a"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		evs, _, err := Lookup([]TrailFile{{Path: path, Active: true}}, Query{After: token, Max: 2})
		if err == nil && len(evs) > 2 {
			t.Fatalf("token %q: %d events, want at most 2", token, len(evs))
		}
	})
}
