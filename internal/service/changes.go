package service

import (
	"context"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// ChangeNotifier wakes the change stream's long polls: the channel it
// returns is closed when the next batch of commands is applied.
type ChangeNotifier interface {
	Changed() <-chan struct{}
}

// Change is one entry of the change stream.
type Change struct {
	Name    string `json:"Name"`
	Version int64  `json:"Version,omitempty"`
	Deleted bool   `json:"Deleted,omitempty"`
	Index   uint64 `json:"Index"`
}

// ChangesOutput is a page of the change stream. Index is what the caller
// passes as since next time; Reset means since was older than the retained
// log and everything under the path must be treated as changed.
type ChangesOutput struct {
	Index   uint64   `json:"Index"`
	Changes []Change `json:"Changes"`
	Reset   bool     `json:"Reset"`
}

// MaxChangesWait bounds a long poll.
const MaxChangesWait = 60 * time.Second

const maxChangesPerPage = 1000

// Changes returns the changes to parameters below path (a GetParametersByPath
// path) after index since, waiting up to wait for one when there is none.
// since 0 returns the current index only. It needs ssm:GetParametersByPath on
// the path, and reads this node's local state.
func (s *Service) Changes(ctx context.Context, c Caller, path string, recursive bool, since uint64, wait time.Duration) (*ChangesOutput, error) {
	p, perr := ssm.CheckPath(path)
	if perr != nil {
		return nil, perr
	}
	if err := c.authorize("ssm:GetParametersByPath", c.Tenancy.ARN(p), nil); err != nil {
		return nil, err
	}
	wait = min(wait, MaxChangesWait)
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	ctx = store.WithStale(ctx)
	for {
		var woken <-chan struct{}
		if s.notifier != nil {
			woken = s.notifier.Changed()
		}
		out := &ChangesOutput{Changes: []Change{}}
		err := s.view(ctx, func(r *store.Reader) error {
			out.Index = r.AppliedIndex()
			if since == 0 {
				return nil
			}
			if since < r.ChangeFloor() {
				out.Reset = true
				return nil
			}
			return r.Changes(since, func(ch *store.Change) (bool, error) {
				if ch.Tenancy != c.Tenancy.Key() || !below(p, ch.Key, recursive) {
					return true, nil
				}
				out.Changes = append(out.Changes, Change{Name: ch.Name, Version: ch.Version, Deleted: ch.Deleted, Index: ch.Index})
				if len(out.Changes) == maxChangesPerPage {
					out.Index = ch.Index
					return false, nil
				}
				return true, nil
			})
		})
		if err != nil {
			return nil, err
		}
		if since == 0 || len(out.Changes) > 0 || out.Reset || woken == nil || wait <= 0 {
			return out, nil
		}
		select {
		case <-woken:
		case <-timeout:
			return out, nil
		case <-ctx.Done():
			// The caller left, or the server is shutting down: answer
			// what there is (nothing), so a drain does not wait for polls.
			return out, nil
		}
	}
}
