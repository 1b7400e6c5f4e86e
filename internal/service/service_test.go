package service_test

// The SSM semantics of the service, tested without raft and without HTTP:
// each test opens a real bbolt state machine (store.DB) in t.TempDir() and
// applies every command the service proposes as the next log entry, as
// raft's FSM does, so a change of semantics is tested in milliseconds. The
// SDK tests of internal/api check the same behaviour on the wire.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	arnPrefix   = "arn:aws:ssm:us-east-1:123456789012:parameter/"
	testUser    = "arn:aws:iam::123456789012:user/tester"

	msgSubPaths      = `Parameter name: can't be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`
	msgPathRequired  = `The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash "/". It can't be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.`
	msgAlreadyExists = "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
	msgInvalidToken  = "The specified token isn't valid."
	msgDowngrade     = "You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier."
	msgTagsOverwrite = "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
)

// testNow is the service's clock: every write is stamped with it.
var testNow = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// dbStore is the service's Store over a state machine with no raft: Apply
// encodes the command as a single raftstore node does (puts in the compact
// form) and applies it at the next index.
type dbStore struct {
	db *store.DB

	mu    sync.Mutex // guards index and serializes ApplyBatch (raft's FSM goroutine)
	index uint64
}

var _ service.Store = (*dbStore)(nil)

func (s *dbStore) View(ctx context.Context, fn func(r *store.Reader) error) error {
	return s.db.View(ctx, fn)
}

func (s *dbStore) Apply(_ context.Context, cmd *store.Command) error {
	data, err := cmd.MarshalCompact()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index++
	return s.db.ApplyBatch([]store.Entry{{Index: s.index, Data: data}})[0]
}

// fixture is a service over a fresh state machine and a caller in
// us-east-1 with no authorizer (everything allowed).
type fixture struct {
	t   *testing.T
	ctx context.Context
	svc *service.Service
	c   service.Caller
}

func newFixture(t *testing.T, limits ...func(*service.Limits)) *fixture {
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
	l := service.DefaultLimits()
	for _, f := range limits {
		f(&l)
	}
	svc, err := service.New(service.Config{Store: &dbStore{db: db}, Keyring: kr, Limits: l, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: context.Background(), svc: svc, c: callerIn(testRegion)}
}

func callerIn(region string) service.Caller {
	return service.Caller{Tenancy: ssm.Tenancy{Account: testAccount, Region: region}, UserARN: testUser}
}

// at returns the fixture reporting to a subtest.
func (f *fixture) at(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// as returns the fixture calling as c.
func (f *fixture) as(c service.Caller) *fixture {
	g := *f
	g.c = c
	return &g
}

func (f *fixture) put(in *ssm.PutParameterInput) *ssm.PutParameterOutput {
	f.t.Helper()
	out, err := f.svc.PutParameter(f.ctx, f.c, in)
	if err != nil {
		f.t.Fatalf("PutParameter %s: %v", deref(in.Name), err)
	}
	return out
}

func (f *fixture) putString(name, value string) {
	f.t.Helper()
	f.put(&ssm.PutParameterInput{Name: &name, Value: &value, Type: ptr(ssm.TypeString)})
}

func (f *fixture) overwrite(name, value string) int64 {
	f.t.Helper()
	return f.put(&ssm.PutParameterInput{Name: &name, Value: &value, Overwrite: ptr(true)}).Version
}

// get reads a parameter, decrypted.
func (f *fixture) get(name string) *ssm.Parameter {
	f.t.Helper()
	out, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: &name, WithDecryption: ptr(true)})
	if err != nil {
		f.t.Fatalf("GetParameter %s: %v", name, err)
	}
	return out.Parameter
}

// getErr reads a parameter that must not resolve.
func (f *fixture) getErr(name string) error {
	f.t.Helper()
	_, err := f.svc.GetParameter(f.ctx, f.c, &ssm.GetParameterInput{Name: &name})
	return err
}

func (f *fixture) label(name string, version int64, labels ...string) *ssm.LabelOutput {
	f.t.Helper()
	in := &ssm.LabelInput{Name: &name, Labels: labels}
	if version != 0 {
		in.ParameterVersion = &version
	}
	out, err := f.svc.LabelParameterVersion(f.ctx, f.c, in)
	if err != nil {
		f.t.Fatalf("LabelParameterVersion %s %v: %v", name, labels, err)
	}
	return out
}

func (f *fixture) history(name string) []ssm.ParameterHistory {
	f.t.Helper()
	var all []ssm.ParameterHistory
	in := &ssm.GetParameterHistoryInput{Name: &name, WithDecryption: ptr(true)}
	for {
		out, err := f.svc.GetParameterHistory(f.ctx, f.c, in)
		if err != nil {
			f.t.Fatalf("GetParameterHistory %s: %v", name, err)
		}
		all = append(all, out.Parameters...)
		if out.NextToken == "" {
			return all
		}
		in.NextToken = &out.NextToken
	}
}

// labelsByVersion returns the labels of every retained version.
func (f *fixture) labelsByVersion(name string) map[int64][]string {
	f.t.Helper()
	m := map[int64][]string{}
	for _, h := range f.history(name) {
		m[h.Version] = h.Labels
	}
	return m
}

// describe lists the metadata of every parameter matching the filters,
// following NextToken.
func (f *fixture) describe(filters ...ssm.ParameterStringFilter) []ssm.ParameterMetadata {
	f.t.Helper()
	var all []ssm.ParameterMetadata
	in := &ssm.DescribeParametersInput{ParameterFilters: filters, MaxResults: ptr[int64](50)}
	for {
		out, err := f.svc.DescribeParameters(f.ctx, f.c, in)
		if err != nil {
			f.t.Fatalf("DescribeParameters: %v", err)
		}
		all = append(all, out.Parameters...)
		if out.NextToken == "" {
			return all
		}
		in.NextToken = &out.NextToken
	}
}

// describeOne returns the metadata of one parameter by name.
func (f *fixture) describeOne(name string) ssm.ParameterMetadata {
	f.t.Helper()
	md := f.describe(filter("Name", "Equals", name))
	if len(md) != 1 {
		f.t.Fatalf("DescribeParameters Name=%s: got %d items, want 1", name, len(md))
	}
	return md[0]
}

func filter(key, option string, values ...string) ssm.ParameterStringFilter {
	f := ssm.ParameterStringFilter{Key: &key, Values: values}
	if option != "" {
		f.Option = &option
	}
	return f
}

// wantErr fails unless err is an *ssm.Error with code and message; "" is
// the message of an error sent without one.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *ssm.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want an *ssm.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("got error code %q (%v), want %q", e.Code, err, code)
	}
	if e.Message != msg {
		t.Errorf("%s: got message %q, want %q", code, e.Message, msg)
	}
}

// wantOK fails the test on an error.
func wantOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("got %v, want success", err)
	}
}

// mismatch describes how got differs from want, or returns "".
func mismatch(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("got %+v, want %+v", got, want)
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func repeat(s string, n int) string {
	b := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

func names(ps []ssm.Parameter) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func metaNames(ps []ssm.ParameterMetadata) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// recordingAuthz records the actions it is asked about and refuses those
// in deny.
type recordingAuthz struct {
	deny  map[string]bool
	calls []string // "action resource"
}

func (a *recordingAuthz) Authorize(action, resource string, _ map[string]string) error {
	a.calls = append(a.calls, action+" "+resource)
	if a.deny[action] {
		return ssm.NewError(ssm.CodeAccessDenied, "denied "+action)
	}
	return nil
}

func TestDBStoreAppliesInOrder(t *testing.T) {
	// The harness itself: commands apply at increasing indexes and their
	// store results come back, as through raft.
	f := newFixture(t)
	f.putString("/h/p", "v")
	_, err := f.svc.PutParameter(f.ctx, f.c, &ssm.PutParameterInput{Name: ptr("/h/p"), Value: ptr("w"), Type: ptr(ssm.TypeString)})
	wantErr(t, err, ssm.CodeParameterAlreadyExists, msgAlreadyExists)
	if v := f.overwrite("/h/p", "w"); v != 2 {
		t.Fatalf("got version %d, want 2", v)
	}
	p := f.get("/h/p")
	if p.Value != "w" || p.LastModifiedDate == nil || !time.Time(*p.LastModifiedDate).Equal(testNow.Truncate(time.Millisecond)) {
		t.Errorf("got %q modified %v, want w at %v", p.Value, p.LastModifiedDate, testNow)
	}
}
