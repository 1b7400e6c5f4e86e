package mirror

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File is a `paramstore server --mirror-config` file: the mirrors the
// raft leader runs. YAML (or JSON, which YAML reads too):
//
//	mirrors:
//	  - name: prod-app            # the metric label and audit identity
//	    source:
//	      endpoint: https://ssm.eu-west-1.amazonaws.com   # empty: AWS SSM of the region
//	      region: eu-west-1
//	      credentials:            # one of, or none for the default chain:
//	        profile: prod         #   a profile of the shared AWS files
//	        file: /etc/paramstore/prod-credentials   # a shared credentials file
//	        env: true             #   AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN only
//	    paths: [/app, /shared]
//	    region: us-east-1         # the region written here (default: the server's --region)
//	    interval: 30s
//	    no_delete: false
//	    key_map: {alias/src: alias/dst}
//	    rate: 5                   # source calls per second at most
//	    stale_after: 3            # intervals without a successful sync: stale
//	    drift_syncs: 3            # consecutive syncs finding drift: persistent drift
//
// A secret is never written in the file: credentials are named, never
// inlined, and a member that looks like a secret is refused by name.
type File struct {
	Mirrors []Spec `yaml:"mirrors"`
}

// Spec is one configured mirror.
type Spec struct {
	Name       string            `yaml:"name"`
	Source     SourceSpec        `yaml:"source"`
	Paths      []string          `yaml:"paths"`
	Region     string            `yaml:"region"`
	Interval   time.Duration     `yaml:"interval"`
	NoDelete   bool              `yaml:"no_delete"`
	KeyMap     map[string]string `yaml:"key_map"`
	Rate       float64           `yaml:"rate"`
	FullEvery  int               `yaml:"full_every"`
	StaleAfter int               `yaml:"stale_after"`
	DriftSyncs int               `yaml:"drift_syncs"`
}

// SourceSpec is where a mirror reads.
type SourceSpec struct {
	// Endpoint is the source's SSM endpoint; empty means AWS SSM itself.
	Endpoint    string          `yaml:"endpoint"`
	Region      string          `yaml:"region"`
	Credentials CredentialsSpec `yaml:"credentials"`
}

// CredentialsSpec names the source's credentials; all empty means the
// AWS default credential chain.
type CredentialsSpec struct {
	Profile string `yaml:"profile"`
	File    string `yaml:"file"`
	Env     bool   `yaml:"env"`
}

// Limits and defaults of a mirror config.
const (
	MaxMirrors        = 32
	MaxPathsPerMirror = 32
	DefaultInterval   = 30 * time.Second
	MinInterval       = time.Second
	DefaultStaleAfter = 3
	DefaultDriftSyncs = 3
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// ConfigError is an invalid mirror config; Field names the member
// ("mirrors[1].paths[0]").
type ConfigError struct {
	Field, Msg string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "mirror config: " + e.Msg
	}
	return "mirror config: " + e.Field + ": " + e.Msg
}

// secretish are member names (lower case, without '_' and '-') that would
// hold a secret: refused, so that none is ever kept in the file.
var secretish = []string{"secret", "password", "token", "privatekey", "accesskey"}

// ParseFile parses and validates a mirror config, filling defaults.
func ParseFile(data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ConfigError{Msg: "not YAML or JSON: " + err.Error()}
	}
	if err := refuseSecrets(&root, ""); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Msg: err.Error()}
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func refuseSecrets(n *yaml.Node, at string) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(n.Content[i].Value))
			for _, s := range secretish {
				if strings.Contains(k, s) && k != "accesskeyid" {
					return &ConfigError{Field: strings.TrimPrefix(at+"."+n.Content[i].Value, "."),
						Msg: "a secret is never written in the mirror config: name a credentials profile, a credentials file (file:) or the AWS_* environment (env: true)"}
				}
			}
			if err := refuseSecrets(n.Content[i+1], at+"."+n.Content[i].Value); err != nil {
				return err
			}
		}
		return nil
	}
	for i, c := range n.Content {
		where := at
		if n.Kind == yaml.SequenceNode {
			where = fmt.Sprintf("%s[%d]", at, i)
		}
		if err := refuseSecrets(c, where); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks every mirror, naming the first invalid member, and
// fills the defaults.
func (f *File) Validate() error {
	if len(f.Mirrors) == 0 {
		return &ConfigError{Field: "mirrors", Msg: "no mirror configured"}
	}
	if len(f.Mirrors) > MaxMirrors {
		return &ConfigError{Field: "mirrors", Msg: fmt.Sprintf("%d mirrors, at most %d", len(f.Mirrors), MaxMirrors)}
	}
	names := map[string]bool{}
	for i := range f.Mirrors {
		s := &f.Mirrors[i]
		at := fmt.Sprintf("mirrors[%d]", i)
		if err := s.validate(at); err != nil {
			return err
		}
		if names[s.Name] {
			return &ConfigError{Field: at + ".name", Msg: fmt.Sprintf("%q is used twice", s.Name)}
		}
		names[s.Name] = true
	}
	return nil
}

func (s *Spec) validate(at string) error {
	bad := func(field, msg string) error { return &ConfigError{Field: at + "." + field, Msg: msg} }
	if !nameRE.MatchString(s.Name) {
		return bad("name", fmt.Sprintf("%q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", s.Name))
	}
	src := s.Source
	if src.Endpoint == "" && src.Region == "" {
		return bad("source", "endpoint or region is required (a region alone means AWS SSM)")
	}
	if src.Endpoint != "" {
		u, err := url.Parse(src.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("source.endpoint", fmt.Sprintf("%q: want an http:// or https:// URL", src.Endpoint))
		}
		if u.User != nil {
			return bad("source.endpoint", "credentials in the URL are refused: name them under source.credentials")
		}
	}
	c := src.Credentials
	if c.Env && (c.Profile != "" || c.File != "") {
		return bad("source.credentials", "env: true takes no profile or file")
	}
	if len(s.Paths) == 0 {
		return bad("paths", "at least one path is required")
	}
	if len(s.Paths) > MaxPathsPerMirror {
		return bad("paths", fmt.Sprintf("%d paths, at most %d", len(s.Paths), MaxPathsPerMirror))
	}
	for j, p := range s.Paths {
		if !strings.HasPrefix(p, "/") || len(p) > 2048 || strings.ContainsAny(p, " \t\r\n") {
			return bad(fmt.Sprintf("paths[%d]", j), fmt.Sprintf("%q: want an absolute path such as /app", p))
		}
		for k, q := range s.Paths[:j] {
			if within(p, q) || within(q, p) {
				return bad(fmt.Sprintf("paths[%d]", j), fmt.Sprintf("%q overlaps paths[%d] %q", p, k, q))
			}
		}
	}
	switch {
	case s.Interval == 0:
		s.Interval = DefaultInterval
	case s.Interval < MinInterval:
		return bad("interval", fmt.Sprintf("%s: at least %s", s.Interval, MinInterval))
	}
	switch {
	case s.Rate == 0:
		s.Rate = DefaultSourceRate
	case s.Rate < 0 || s.Rate > 1000:
		return bad("rate", fmt.Sprintf("%g: want source calls per second, above 0 (AWS allows 40/s per account, shared)", s.Rate))
	}
	for k, v := range s.KeyMap {
		if k == "" || v == "" {
			return bad("key_map", "want source key: target key, both non-empty")
		}
	}
	for _, n := range []struct {
		field string
		v     *int
		def   int
	}{{"full_every", &s.FullEvery, 10}, {"stale_after", &s.StaleAfter, DefaultStaleAfter}, {"drift_syncs", &s.DriftSyncs, DefaultDriftSyncs}} {
		switch {
		case *n.v == 0:
			*n.v = n.def
		case *n.v < 0 || *n.v > 1000:
			return bad(n.field, fmt.Sprintf("%d: want 1 to 1000", *n.v))
		}
	}
	return nil
}

// within reports whether path p is q or under it.
func within(p, q string) bool {
	q = strings.TrimSuffix(q, "/")
	return p == q || strings.HasPrefix(p, q+"/") || q == ""
}

// SourceName is how logs and incidents name the source (never with
// credentials).
func (s *Spec) SourceName() string {
	if s.Source.Endpoint != "" {
		return s.Source.Endpoint
	}
	return "aws ssm " + s.Source.Region
}

// errNoEnvCredentials is returned for env: true without the variables.
var errNoEnvCredentials = errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
