package mirror

import (
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`
mirrors:
  - name: prod
    source: {region: eu-west-1, credentials: {profile: prod}}
    paths: [/app, /shared]
    key_map: {alias/src: alias/dst}
  - name: other
    source: {endpoint: "https://other:4583", credentials: {file: /etc/creds}}
    paths: [/x]
    interval: 5s
    no_delete: true
    rate: 2
    stale_after: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Mirrors[0], f.Mirrors[1]
	if a.Interval != DefaultInterval || a.Rate != DefaultSourceRate || a.StaleAfter != DefaultStaleAfter || a.DriftSyncs != DefaultDriftSyncs || a.FullEvery != 10 {
		t.Errorf("defaults not filled: %+v", a)
	}
	if a.KeyMap["alias/src"] != "alias/dst" || a.SourceName() != "aws ssm eu-west-1" || a.Source.Credentials.Profile != "prod" {
		t.Errorf("mirror 0: %+v", a)
	}
	if b.Interval != 5*time.Second || !b.NoDelete || b.Rate != 2 || b.StaleAfter != 4 || b.SourceName() != "https://other:4583" {
		t.Errorf("mirror 1: %+v", b)
	}
	// JSON is YAML too.
	if _, err := ParseFile([]byte(`{"mirrors":[{"name":"j","source":{"endpoint":"http://h:1"},"paths":["/j"]}]}`)); err != nil {
		t.Errorf("JSON: %v", err)
	}
}

func TestParseFileErrors(t *testing.T) {
	const ok = "  - name: a\n    source: {endpoint: 'http://h:1'}\n    paths: [/a]\n"
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "", "mirrors: no mirror configured"},
		{"not yaml", "mirrors: [", "not YAML or JSON"},
		{"unknown member", "mirrors:\n" + ok + "    intervl: 3s\n", "field intervl not found"},
		{"inline secret", "mirrors:\n  - name: a\n    source: {endpoint: 'http://h:1', credentials: {aws_secret_access_key: X}}\n    paths: [/a]\n",
			"mirrors[0].source.credentials.aws_secret_access_key: a secret is never written"},
		{"session token", "mirrors:\n" + ok + "    session_token: x\n", "mirrors[0].session_token: a secret"},
		{"bad name", "mirrors:\n  - name: 'a b'\n    source: {endpoint: 'http://h:1'}\n    paths: [/a]\n", "mirrors[0].name"},
		{"no source", "mirrors:\n  - name: a\n    paths: [/a]\n", "mirrors[0].source: endpoint or region is required"},
		{"bad endpoint", "mirrors:\n  - name: a\n    source: {endpoint: 'ftp://h'}\n    paths: [/a]\n", "mirrors[0].source.endpoint"},
		{"userinfo", "mirrors:\n  - name: a\n    source: {endpoint: 'http://k:s@h'}\n    paths: [/a]\n", "credentials in the URL are refused"},
		{"env and profile", "mirrors:\n  - name: a\n    source: {region: us-east-1, credentials: {env: true, profile: p}}\n    paths: [/a]\n", "env: true takes no profile"},
		{"no paths", "mirrors:\n  - name: a\n    source: {region: us-east-1}\n", "mirrors[0].paths: at least one"},
		{"relative path", "mirrors:\n  - name: a\n    source: {region: us-east-1}\n    paths: [a]\n", "mirrors[0].paths[0]"},
		{"overlap", "mirrors:\n  - name: a\n    source: {region: us-east-1}\n    paths: [/a, /a/b]\n", "overlaps"},
		{"short interval", "mirrors:\n" + ok + "    interval: 10ms\n", "mirrors[0].interval: 10ms: at least 1s"},
		{"bad interval", "mirrors:\n" + ok + "    interval: soon\n", "soon"},
		{"negative rate", "mirrors:\n" + ok + "    rate: -1\n", "mirrors[0].rate"},
		{"stale_after", "mirrors:\n" + ok + "    stale_after: -2\n", "mirrors[0].stale_after"},
		{"empty key map", "mirrors:\n" + ok + "    key_map: {alias/a: ''}\n", "mirrors[0].key_map"},
		{"duplicate", "mirrors:\n" + ok + ok, `mirrors[1].name: "a" is used twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "X}") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}

// FuzzParseFile: any input parses to a valid config or a ConfigError,
// never a panic, and a parsed config is valid and bounded.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("mirrors:\n  - name: a\n    source: {endpoint: 'http://h:1', credentials: {env: true}}\n    paths: [/a]\n    interval: 2s\n"))
	f.Add([]byte(`{"mirrors":[{"name":"j","source":{"region":"us-east-1"},"paths":["/j","/k"],"key_map":{"a":"b"}}]}`))
	f.Add([]byte("mirrors: [{name: x, source: {secret: y}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseFile(data)
		if err != nil {
			if _, ok := err.(*ConfigError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(cfg.Mirrors) == 0 || len(cfg.Mirrors) > MaxMirrors {
			t.Fatalf("%d mirrors", len(cfg.Mirrors))
		}
		for _, s := range cfg.Mirrors {
			if !nameRE.MatchString(s.Name) || len(s.Paths) == 0 || s.Interval < MinInterval || s.Rate <= 0 || s.StaleAfter < 1 || s.DriftSyncs < 1 {
				t.Fatalf("invalid mirror accepted: %+v", s)
			}
		}
	})
}
