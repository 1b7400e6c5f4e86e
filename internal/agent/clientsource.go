package agent

import (
	"context"
	"errors"

	"github.com/paramstore/paramstore/client"
)

// ClientSource adapts the public resilient client to Source.
func ClientSource(c *client.Client) Source { return clientSource{c} }

type clientSource struct{ c *client.Client }

var _ Source = clientSource{}

func fromClient(r client.Result) Result {
	return Result{Parameter: Parameter(r.Parameter), Stale: r.Stale, FetchedAt: r.FetchedAt, FromCache: r.FromCache}
}

func fromClients(rs []client.Result) []Result {
	out := make([]Result, len(rs))
	for i, r := range rs {
		out[i] = fromClient(r)
	}
	return out
}

// sourceErr marks the client's "no upstream" errors with ErrUnavailable.
func sourceErr(err error) error {
	if errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrClosed) {
		return errors.Join(ErrUnavailable, err)
	}
	return err
}

func (s clientSource) Get(ctx context.Context, name string, withDecryption bool) (Result, error) {
	r, err := s.c.Get(ctx, name, withDecryption)
	if err != nil {
		return Result{}, sourceErr(err)
	}
	return fromClient(r), nil
}

func (s clientSource) GetMany(ctx context.Context, names []string, withDecryption bool) ([]Result, []string, error) {
	found, invalid, err := s.c.GetMany(ctx, names, withDecryption)
	if err != nil {
		return nil, nil, sourceErr(err)
	}
	return fromClients(found), invalid, nil
}

func (s clientSource) GetByPath(ctx context.Context, path string, recursive, withDecryption bool) ([]Result, error) {
	rs, err := s.c.GetByPath(ctx, path, recursive, withDecryption)
	if err != nil {
		return nil, sourceErr(err)
	}
	return fromClients(rs), nil
}

func (s clientSource) Watch(ctx context.Context, path string) (<-chan Change, error) {
	in, err := s.c.Watch(ctx, path)
	if err != nil {
		return nil, err
	}
	out := make(chan Change)
	go func() {
		defer close(out)
		for c := range in {
			select {
			case out <- Change{Name: c.Name, Version: c.Version, Deleted: c.Deleted, Reset: c.Reset}:
			case <-ctx.Done():
				// Drain until the client closes in, which it does once ctx
				// is done.
				for range in {
				}
				return
			}
		}
	}()
	return out, nil
}

func (s clientSource) Invalidate(names ...string) { s.c.Invalidate(names...) }

func (s clientSource) Health() []UpstreamHealth {
	hs := s.c.Health()
	out := make([]UpstreamHealth, len(hs))
	for i, h := range hs {
		out[i] = UpstreamHealth{URL: h.URL, State: h.State, Breaker: h.Breaker, LastError: h.LastError,
			ObservedAt: h.ObservedAt, RetryIn: h.RetryIn, ServingStaleSince: h.ServingStaleSince}
	}
	return out
}

func (s clientSource) CacheStatus() CacheStatus {
	st := s.c.CacheStatus()
	return CacheStatus{Path: st.Path, State: st.State, Error: st.Error, Loaded: st.Loaded, Pending: st.Pending, LastFlush: st.LastFlush}
}
