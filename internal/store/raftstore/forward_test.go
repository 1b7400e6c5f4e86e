package raftstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paramstore/paramstore/internal/store"
)

// TestForwardBatch: the writes a follower's clients make while a forward
// call is in flight leave together in the next applybatch call, and each
// gets its own answer (one of them a state machine result) and is applied
// on the follower when it returns; a leader of an older version, which
// answers applybatch as unknown, gets them one apply call each.
func TestForwardBatch(t *testing.T) {
	t.Parallel()
	c := makeCluster(t, 3)
	for _, older := range []bool{false, true} {
		t.Run(fmt.Sprintf("older-leader=%v", older), func(t *testing.T) {
			retryAttempts(t, func(attempt int) bool { return forwardBatch(t, c, older, attempt) })
		})
	}
}

// forwardBatch is one attempt of TestForwardBatch; false when the leader
// changed during it.
func forwardBatch(t *testing.T, c *cluster, older bool, attempt int) bool {
	var batches, applies, commands atomic.Int32
	hold := make(chan struct{})
	var holdOnce sync.Once
	var armed atomic.Bool // hold the first call from then on
	px := proxyLeader(t, c, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/applybatch"):
			batches.Add(1)
			if older {
				writeRPC(w, http.StatusNotFound, rpcResponse{Error: unknownCall})
				return true
			}
			var body bytes.Buffer
			if _, err := body.ReadFrom(r.Body); err != nil {
				t.Error(err)
			}
			cmds, err := splitCommands(body.Bytes())
			if err != nil {
				t.Error(err)
			}
			commands.Add(int32(len(cmds)))
			r.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
			first := false
			if armed.Load() {
				holdOnce.Do(func() { first = true })
			}
			if first {
				<-hold // the other writes queue meanwhile
			}
		case strings.HasSuffix(r.URL.Path, "/apply"):
			applies.Add(1)
			first := false
			if armed.Load() {
				holdOnce.Do(func() { first = true })
			}
			if first {
				<-hold
			}
		}
		return false
	})
	if px == nil {
		return false
	}
	defer px.Close()
	leader, f, stillLeader := px.leader, px.follower, px.stillLeader
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	prefix := fmt.Sprintf("/fwdbatch/older-%v-%d/", older, attempt)
	taken := prefix + "taken"
	apply(t, leader, putCmd(taken, 1, 0))
	if older {
		// The first call learns the leader does not know applybatch.
		if err := f.n.Apply(ctx, putCmd(prefix+"first", 1, 0)); err != nil {
			if !stillLeader() {
				return false
			}
			t.Fatal(err)
		}
		batches.Store(0)
		applies.Store(0)
	}
	armed.Store(true)
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := func(w int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%sp%d", prefix, w)
			if w == writers-1 {
				name = taken // created already: a state machine result
			}
			errs[w] = f.n.Apply(ctx, putCmd(name, 1, 0))
		}()
	}
	start(0)
	if !poll(func() bool { return batches.Load()+applies.Load() == 1 }) {
		t.Fatal("the first write did not reach the leader")
	}
	for w := 1; w < writers; w++ {
		start(w)
	}
	if !poll(func() bool {
		f.n.readMu.Lock()
		defer f.n.readMu.Unlock()
		return len(f.n.fwdQueue.pending) == writers-1
	}) {
		t.Fatal("the other writes did not queue behind the first")
	}
	close(hold)
	wg.Wait()
	if !stillLeader() {
		return false
	}
	for w, err := range errs {
		if w == writers-1 {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("a create of a taken name through %s: %v; want %v", f.id, err, store.ErrConflict)
			}
			continue
		}
		if err != nil {
			t.Errorf("write %d through %s: %v", w, f.id, err)
		}
	}
	// Each write is applied on the follower once it returns.
	got := params(t, f.n)
	for w := range writers - 1 {
		if name := fmt.Sprintf("%sp%d", prefix, w); got[name] == nil {
			t.Errorf("%s not applied on %s when its write returned", name, f.id)
		}
	}
	if older {
		if b, a := batches.Load(), applies.Load(); b != 0 || a != writers {
			t.Errorf("%d writes to an older leader sent %d applybatch and %d apply calls; want 0 and %d", writers, b, a, writers)
		}
		return true
	}
	if b, a, n := batches.Load(), applies.Load(), commands.Load(); b != 2 || a != 0 || n != writers {
		t.Errorf("%d writes, %d of them queued behind the first, sent %d applybatch calls with %d commands and %d apply calls; want 2, %d and 0",
			writers, writers-1, b, n, a, writers)
	}
	return true
}

// TestSplitCommands: the body of applybatch splits back into the commands
// it was made of, and a body whose lengths run past it, holds no command
// or too many is refused.
func TestSplitCommands(t *testing.T) {
	var body []byte
	want := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("b"), 300)}
	for _, c := range want {
		body = binary.AppendUvarint(body, uint64(len(c)))
		body = append(body, c...)
	}
	got, err := splitCommands(body)
	if err != nil || len(got) != len(want) {
		t.Fatalf("splitCommands: %d commands, %v; want %d", len(got), err, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("command %d: %q, want %q", i, got[i], want[i])
		}
	}
	tooMany := bytes.Repeat([]byte{0}, forwardBatchMax+1)
	for _, bad := range [][]byte{nil, body[:len(body)-1], {0x80}, binary.AppendUvarint(nil, 1<<40), tooMany} {
		if cmds, err := splitCommands(bad); err == nil {
			t.Errorf("splitCommands(%x): %d commands, want an error", bad, len(cmds))
		}
	}
}

func FuzzSplitCommands(f *testing.F) {
	f.Add([]byte{1, 'a', 0, 2, 'b', 'c'})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, body []byte) {
		cmds, err := splitCommands(body)
		if err != nil {
			return
		}
		var again []byte
		for _, c := range cmds {
			again = binary.AppendUvarint(again, uint64(len(c)))
			again = append(again, c...)
		}
		if len(cmds) == 0 || len(cmds) > forwardBatchMax || len(again) > len(body) {
			t.Fatalf("splitCommands(%x) = %d commands (%d bytes again)", body, len(cmds), len(again))
		}
	})
}
