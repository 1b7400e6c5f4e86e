package agent

import (
	"context"
	"time"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/bundle"
)

// HeaderSource names where a response's values came from when it is not
// an upstream or the cache: "bundle".
const HeaderSource = "X-Paramstore-Source"

// bundled serves from cold-start bundles what its Source cannot: a read
// that fails because no upstream answered and the cache lacks the name.
// Results from a bundle are stale, fetched at the bundle's creation time.
// SecureStrings are served only decrypted (the bundle holds no
// ciphertext).
type bundled struct {
	Source
	set *bundle.Set
}

// WithBundles wraps src so that set answers what src cannot (see bundled).
// A nil or empty set returns src.
func WithBundles(src Source, set *bundle.Set) Source {
	if set.Len() == 0 {
		return src
	}
	return &bundled{Source: src, set: set}
}

func bundleResult(p bundle.Parameter, created time.Time) client.Result {
	return client.Result{
		Parameter: client.Parameter{Name: p.Name, Type: p.Type, Value: p.Value, ARN: p.ARN, DataType: p.DataType,
			Version: p.Version, LastModifiedDate: p.LastModifiedDate},
		Stale: true, FetchedAt: created, FromCache: true,
	}
}

func (b *bundled) lookup(name string, withDecryption bool) (client.Result, bool) {
	p, created, ok := b.set.Lookup(name)
	if !ok || (p.Type == "SecureString" && !withDecryption) {
		return client.Result{}, false
	}
	r := bundleResult(p, created)
	if _, sel := bundle.SplitName(name); sel != "" {
		r.Selector = ":" + sel
	}
	return r, true
}

// Get implements Source.
func (b *bundled) Get(ctx context.Context, name string, withDecryption bool) (client.Result, error) {
	r, err := b.Source.Get(ctx, name, withDecryption)
	if err == nil || !unavailable(err) {
		return r, err
	}
	if br, ok := b.lookup(name, withDecryption); ok {
		return br, nil
	}
	return r, err
}

// GetMany implements Source: all names must be bundled, else the
// Source's error stands.
func (b *bundled) GetMany(ctx context.Context, names []string, withDecryption bool) ([]client.Result, []string, error) {
	found, invalid, err := b.Source.GetMany(ctx, names, withDecryption)
	if err == nil || !unavailable(err) {
		return found, invalid, err
	}
	out := make([]client.Result, 0, len(names))
	for _, n := range names {
		r, ok := b.lookup(n, withDecryption)
		if !ok {
			return found, invalid, err
		}
		out = append(out, r)
	}
	return out, nil, nil
}

// GetByPath implements Source.
func (b *bundled) GetByPath(ctx context.Context, path string, recursive, withDecryption bool) ([]client.Result, error) {
	rs, err := b.Source.GetByPath(ctx, path, recursive, withDecryption)
	if err == nil || !unavailable(err) {
		return rs, err
	}
	ps, created := b.set.ByPath(path, recursive)
	if len(ps) == 0 {
		return rs, err
	}
	out := make([]client.Result, 0, len(ps))
	for i, p := range ps {
		if p.Type == "SecureString" && !withDecryption {
			continue
		}
		out = append(out, bundleResult(p, created[i]))
	}
	return out, nil
}

// fromBundle reports whether r was served from a bundle of set.
func fromBundle(set *bundle.Set, r client.Result) bool {
	if !r.Stale || set.Len() == 0 {
		return false
	}
	p, created, ok := set.Lookup(r.Name)
	return ok && p.Version == r.Version && created.Equal(r.FetchedAt) && p.Value == r.Value
}
