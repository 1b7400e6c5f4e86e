// Package store holds Paramstore's durable state: a bbolt state machine
// changed only by deterministic commands, which raft (package raftstore)
// replicates and applies in the same order on every node.
//
// The store never sees a SecureString plaintext: the service encrypts values
// before it builds a command. The store makes no decisions about SSM
// semantics either: the service validates against a snapshot it read and
// sends compare-and-set commands; Apply only checks the expectation and
// performs the mechanical change, so it is deterministic.
package store

import "slices"

// Version is one retained version of a parameter.
type Version struct {
	Version        int64  `json:"v"`
	Type           string `json:"t"`
	Value          string `json:"val"` // plaintext for String/StringList, envelope for SecureString
	KeyID          string `json:"k,omitempty"`
	Description    string `json:"d,omitempty"`
	AllowedPattern string `json:"ap,omitempty"`
	DataType       string `json:"dt,omitempty"`
	Tier           string `json:"tier,omitempty"`
	Policies       string `json:"pol,omitempty"` // normalized JSON array text, "" for none
	Modified       int64  `json:"m"`             // epoch milliseconds
	User           string `json:"u,omitempty"`
}

// Parameter is the head record of a parameter: its identity, its newest
// version inline (so point reads are one lookup), the retained version
// numbers, labels and tags.
type Parameter struct {
	Name     string            `json:"n"` // spelling used at creation
	Latest   Version           `json:"l"`
	Versions []int64           `json:"vs"`           // retained, ascending
	Labels   map[string]int64  `json:"lb,omitempty"` // label -> version
	Tags     map[string]string `json:"tg,omitempty"`
	// ModIndex is the raft index of the last change; writes compare it.
	ModIndex uint64 `json:"mi"`
	// Fired are the notification policies of the latest version that
	// fired (their PolicyStatus is Finished); a new version clears it.
	Fired []string `json:"pf,omitempty"`
}

// LabelsOf returns the labels held by a version, sorted.
func (p *Parameter) LabelsOf(v int64) []string {
	out := []string{}
	for l, lv := range p.Labels {
		if lv == v {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// HasVersion reports whether version v is retained.
func (p *Parameter) HasVersion(v int64) bool {
	for _, x := range p.Versions {
		if x == v {
			return true
		}
	}
	return false
}

// Tenancy is the per-(account, region) record: counts and service settings.
type Tenancy struct {
	Standard int64              `json:"std"`
	Advanced int64              `json:"adv"`
	Settings map[string]Setting `json:"set,omitempty"`
}

// Setting is a customized service setting.
type Setting struct {
	Value    string `json:"v"`
	Modified int64  `json:"m"`
	User     string `json:"u"`
}

// Key is a named encryption key of the keyring, its material wrapped by the
// master key.
type Key struct {
	ID          string `json:"id"`
	Alias       string `json:"alias,omitempty"`
	Description string `json:"d,omitempty"`
	Wrapped     []byte `json:"w"`
	Created     int64  `json:"c"`
	Disabled    bool   `json:"x,omitempty"`
}
