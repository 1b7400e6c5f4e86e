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
// path) after index since, without waiting (a Hub waits); since 0 returns
// the current index only. It needs ssm:GetParametersByPath on the path, and
// reads this node's local state.
func (s *Service) Changes(ctx context.Context, c Caller, path string, recursive bool, since uint64) (*ChangesOutput, error) {
	out, _, err := s.openWatch(ctx, c, path, recursive, since)
	return out, err
}

// openWatch is Changes that also says, when there is nothing to answer,
// what to wait for: a Watch of the path from the index read.
func (s *Service) openWatch(ctx context.Context, c Caller, path string, recursive bool, since uint64) (*ChangesOutput, *Watch, error) {
	p, perr := ssm.CheckPath(path)
	if perr != nil {
		return nil, nil, perr
	}
	if err := c.authorize("ssm:GetParametersByPath", c.Tenancy.ARN(p), nil); err != nil {
		return nil, nil, err
	}
	out := &ChangesOutput{Changes: []Change{}}
	tenancy := c.Tenancy.Key()
	// A buffered read (the change log as applied, without a commit: every
	// agent opens one after each answer). Set afresh: it may run twice.
	err := s.view(store.WithPointReads(store.WithStale(ctx)), func(r *store.Reader) error {
		out.Changes, out.Reset = out.Changes[:0], false
		out.Index = r.AppliedIndex()
		if since == 0 {
			return nil
		}
		if since < r.ChangeFloor() {
			out.Reset = true
			return nil
		}
		return r.Changes(since, func(ch *store.Change) (bool, error) {
			if ch.Tenancy != tenancy || !below(p, ch.Key, recursive) {
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
		return nil, nil, err
	}
	if since == 0 || len(out.Changes) > 0 || out.Reset {
		return out, nil, nil
	}
	// Nothing after since up to the index read: a watch from there. A
	// caller ahead of this node (it followed another one) waits from its
	// own index, so that nothing it saw is sent again.
	return out, &Watch{key: watchKey{tenancy: tenancy, path: p, recursive: recursive}, readAt: out.Index, since: max(since, out.Index)}, nil
}
