package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/client"
)

// fakeSource is a hand-written Source over an in-memory set of parameters.
type fakeSource struct {
	mu          sync.Mutex
	versions    map[string][]client.Parameter // name -> versions, oldest first
	labels      map[string]map[string]int64
	stale       bool      // mark every result stale
	fetchedAt   time.Time // FetchedAt of every result
	down        bool      // no upstream and nothing cached
	invalidated []string
	health      []client.UpstreamHealth
	cache       client.CacheStatus
	watchers    map[string][]chan client.Change
	watchStart  chan string // receives the path of each Watch call, if set
}

var _ Source = (*fakeSource)(nil)

func newFakeSource() *fakeSource {
	return &fakeSource{versions: map[string][]client.Parameter{}, labels: map[string]map[string]int64{}, watchers: map[string][]chan client.Change{}}
}

var fakeModified = time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)

// put adds a version of name and returns it.
func (f *fakeSource) put(name, typ, value string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := int64(len(f.versions[name]) + 1)
	f.versions[name] = append(f.versions[name], client.Parameter{
		Name: name, Type: typ, Value: value, Version: v, DataType: "text",
		ARN:              "arn:aws:ssm:us-east-1:123456789012:parameter" + name,
		LastModifiedDate: fakeModified,
	})
	return v
}

func (f *fakeSource) label(name, label string, version int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.labels[name] == nil {
		f.labels[name] = map[string]int64{}
	}
	f.labels[name][label] = version
}

func (f *fakeSource) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeSource) invalidations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.invalidated...)
}

func (f *fakeSource) result(p client.Parameter, decrypt bool) client.Result {
	if p.Type == "SecureString" && !decrypt {
		p.Value = "ciphertext-of-" + p.Name
	}
	return client.Result{Parameter: p, Stale: f.stale, FetchedAt: f.fetchedAt, FromCache: f.stale}
}

func (f *fakeSource) Get(ctx context.Context, name string, decrypt bool) (client.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return client.Result{}, fmt.Errorf("%w: fake: no upstream reachable", client.ErrUnavailable)
	}
	base, sel := name, ""
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		base, sel = name[:i], name[i+1:]
	}
	vs := f.versions[base]
	if len(vs) == 0 {
		return client.Result{}, &types.ParameterNotFound{}
	}
	if sel == "" {
		return f.result(vs[len(vs)-1], decrypt), nil
	}
	v, err := strconv.ParseInt(sel, 10, 64)
	if err != nil {
		var ok bool
		if v, ok = f.labels[base][sel]; !ok {
			return client.Result{}, &types.ParameterVersionNotFound{Message: ptr("label " + sel + " not found")}
		}
	}
	if v < 1 || v > int64(len(vs)) {
		return client.Result{}, &types.ParameterVersionNotFound{Message: ptr("Version " + sel + " of " + base + " not found")}
	}
	p := vs[v-1]
	p.Selector = ":" + sel
	return f.result(p, decrypt), nil
}

func ptr(s string) *string { return &s }

func (f *fakeSource) GetMany(ctx context.Context, names []string, decrypt bool) ([]client.Result, []string, error) {
	var found []client.Result
	var invalid []string
	for _, n := range names {
		r, err := f.Get(ctx, n, decrypt)
		var nf *types.ParameterNotFound
		switch {
		case errors.As(err, &nf):
			invalid = append(invalid, n)
		case err != nil:
			return nil, nil, err
		default:
			found = append(found, r)
		}
	}
	return found, invalid, nil
}

func (f *fakeSource) GetByPath(ctx context.Context, path string, recursive, decrypt bool) ([]client.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, fmt.Errorf("%w: fake: no upstream reachable", client.ErrUnavailable)
	}
	prefix := strings.TrimRight(path, "/") + "/"
	var out []client.Result
	for name, vs := range f.versions {
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok || (!recursive && strings.Contains(rel, "/")) {
			continue
		}
		out = append(out, f.result(vs[len(vs)-1], decrypt))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeSource) Watch(ctx context.Context, path string) (<-chan client.Change, error) {
	ch := make(chan client.Change, 16)
	f.mu.Lock()
	f.watchers[path] = append(f.watchers[path], ch)
	start := f.watchStart
	f.mu.Unlock()
	if start != nil {
		start <- path
	}
	return ch, nil
}

// announce sends c to every watcher whose path covers c.Name.
func (f *fakeSource) announce(c client.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, chans := range f.watchers {
		if p == "/" || strings.HasPrefix(c.Name, strings.TrimRight(p, "/")+"/") {
			for _, ch := range chans {
				ch <- c
			}
		}
	}
}

func (f *fakeSource) Invalidate(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, names...)
}

func (f *fakeSource) Health() []client.UpstreamHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.UpstreamHealth(nil), f.health...)
}

func (f *fakeSource) CacheStatus() client.CacheStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cache.State == "" {
		return client.CacheStatus{State: "off"}
	}
	return f.cache
}
