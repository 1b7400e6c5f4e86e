package raftstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// A follower forwards the writes its clients make to the leader. The
// writes that wait while one forward call is in flight leave together in
// the next one (applybatch), as the follower's read and plan index calls
// do (askShared): one HTTP round trip, one HMAC and one request for the
// leader to serve carry every write that arrived meanwhile, and the
// leader proposes them all before it waits for any, so that they share
// its raft batches. Each write still gets its own answer (index, state
// machine result, or error), and the follower waits for its own index as
// before (forward).
//
// The body of applybatch is the commands one after another, each
// preceded by its length as a uvarint. A leader of an older version, which
// does not know the call, gets the writes one apply call each, from then
// on while leaderInfo gives the same answer (noApplyBatch).

// forwardBatchMax bounds the commands of one applybatch call, and
// forwardBatchBytes their bytes (below rpcMaxBody).
const (
	forwardBatchMax   = 256
	forwardBatchBytes = rpcMaxBody / 2
)

// forwardReq is one write waiting to be forwarded.
type forwardReq struct {
	data []byte
	done chan struct{}
	// Set before done is closed: the leader it went to (nil if none was
	// known), the entry's index and the answer.
	leader *store.NodeInfo
	index  uint64
	err    error
}

// forwardQueue holds the writes waiting for the next forward call; under
// Node.readMu, which also orders the start of its goroutine before Close.
type forwardQueue struct {
	pending []*forwardReq
	running bool
}

// forwardShared forwards data to the leader with the writes that wait
// with it, and returns the leader it went to, the entry's index and the
// answer.
func (n *Node) forwardShared(ctx context.Context, data []byte) (*store.NodeInfo, uint64, error) {
	r := &forwardReq{data: data, done: make(chan struct{})}
	n.readMu.Lock()
	if n.closed.Load() {
		n.readMu.Unlock()
		return nil, 0, fmt.Errorf("%w: %w", ErrNotReady, raft.ErrRaftShutdown)
	}
	q := &n.fwdQueue
	q.pending = append(q.pending, r)
	if !q.running {
		q.running = true
		n.wg.Add(1)
		go n.runForwards()
	}
	n.readMu.Unlock()
	select {
	case <-r.done:
		return r.leader, r.index, r.err
	case <-ctx.Done():
		// The write may still be applied: its outcome is unknown, as when
		// a forward call is cut off.
		return nil, 0, fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
	}
}

// runForwards sends the pending writes until there is none.
func (n *Node) runForwards() {
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	q := &n.fwdQueue
	for {
		n.readMu.Lock()
		batch := takeForwards(&q.pending)
		if len(batch) == 0 {
			q.running = false
			n.readMu.Unlock()
			return
		}
		n.readMu.Unlock()
		n.sendForwards(ctx, batch)
	}
}

// takeForwards removes from *pending and returns the writes of the next
// call: the oldest, within forwardBatchMax and forwardBatchBytes (at least
// one).
func takeForwards(pending *[]*forwardReq) []*forwardReq {
	p := *pending
	k, size := 0, 0
	for k < len(p) && k < forwardBatchMax {
		size += len(p[k].data)
		if k > 0 && size > forwardBatchBytes {
			break
		}
		k++
	}
	batch := p[:k:k]
	if k == len(p) {
		*pending = nil
	} else {
		*pending = p[k:]
	}
	return batch
}

// sendForwards sends batch to the leader and answers each of its writes.
func (n *Node) sendForwards(ctx context.Context, batch []*forwardReq) {
	leader, err := n.leaderInfo()
	if err != nil {
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	send := make([]*forwardReq, 0, len(batch))
	for _, r := range batch {
		r.leader = leader
		if r.data, r.err = forwardable(r.data, leader); r.err != nil {
			close(r.done)
			continue
		}
		send = append(send, r)
	}
	if len(send) > 0 {
		if n.noApplyBatch.Load() == leader {
			n.forwardEach(ctx, leader, send)
		} else if err := n.forwardBatch(ctx, leader, send); errors.Is(err, errUnknownCall) {
			n.noApplyBatch.Store(leader)
			n.forwardEach(ctx, leader, send)
		}
	}
	drop := false
	for _, r := range send {
		drop = drop || (r.err != nil && !store.IsResult(r.err))
		close(r.done)
	}
	if drop {
		n.dropLeaderInfo()
	}
}

// forwardBatch sends the writes in one applybatch call and sets their
// answers; it returns an error (and sets none) only for a leader that does
// not know the call.
func (n *Node) forwardBatch(ctx context.Context, leader *store.NodeInfo, send []*forwardReq) error {
	size := 0
	for _, r := range send {
		size += binary.MaxVarintLen64 + len(r.data)
	}
	body := make([]byte, 0, size)
	for _, r := range send {
		body = binary.AppendUvarint(body, uint64(len(r.data)))
		body = append(body, r.data...)
	}
	items, err := n.rpc.applyBatch(ctx, leader.APIAddr, body)
	if errors.Is(err, errUnknownCall) {
		return err
	}
	if err == nil && len(items) != len(send) {
		err = fmt.Errorf("raftstore: applybatch: %d answers to %d commands", len(items), len(send))
	}
	for i, r := range send {
		if err != nil {
			r.err = err
			continue
		}
		r.index, r.err = items[i].Index, items[i].err("apply", items[i].Status)
	}
	return nil
}

// forwardEach sends the writes one apply call each, at once.
func (n *Node) forwardEach(ctx context.Context, leader *store.NodeInfo, send []*forwardReq) {
	var wg sync.WaitGroup
	for _, r := range send {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.index, r.err = n.rpc.apply(ctx, leader.APIAddr, r.data)
		}()
	}
	wg.Wait()
}

// rpcItem is the answer to one command of an applybatch call: its HTTP
// status as the apply call would have answered it, and that answer.
type rpcItem struct {
	Status int `json:"status"`
	rpcResponse
}

type rpcBatchResponse struct {
	Items []rpcItem `json:"items"`
	Error string    `json:"error,omitempty"`
}

// applyBatch sends an applybatch call and returns its answers.
func (c *rpcClient) applyBatch(ctx context.Context, base string, body []byte) ([]rpcItem, error) {
	resp, err := c.post(ctx, base, "applybatch", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, rpcMaxBody))
	if err != nil {
		return nil, fmt.Errorf("raftstore: applybatch: read the answer of %s: %w", base, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		// An older member: its answer to a call it does not know, or
		// (older still) net/http's "404 page not found".
		return nil, fmt.Errorf("raftstore: applybatch: %w", errUnknownCall)
	}
	if resp.StatusCode != http.StatusOK {
		var out rpcResponse
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("raftstore: applybatch: HTTP %d", resp.StatusCode)
		}
		return nil, out.err("applybatch", resp.StatusCode)
	}
	var out rpcBatchResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("raftstore: applybatch: the answer of %s: %w", base, err)
	}
	return out.Items, nil
}

// splitCommands splits the body of an applybatch call into its commands.
func splitCommands(body []byte) ([][]byte, error) {
	var cmds [][]byte
	for len(body) > 0 {
		size, k := binary.Uvarint(body)
		if k <= 0 || size > uint64(len(body)-k) {
			return nil, errors.New("raftstore: applybatch: a command's length runs past the body")
		}
		if len(cmds) == forwardBatchMax {
			return nil, fmt.Errorf("raftstore: applybatch: more than %d commands", forwardBatchMax)
		}
		body = body[k:]
		cmds = append(cmds, body[:size:size])
		body = body[size:]
	}
	if len(cmds) == 0 {
		return nil, errors.New("raftstore: applybatch: no command")
	}
	return cmds, nil
}

// serveApplyBatch is the leader's side of applybatch: it proposes every
// command, then waits for each and answers them in order.
func (n *Node) serveApplyBatch(ctx context.Context, w http.ResponseWriter, body []byte) {
	if n.raft.State() != raft.Leader {
		writeRPC(w, http.StatusServiceUnavailable, rpcResponse{Error: "not the leader"})
		return
	}
	cmds, err := splitCommands(body)
	if err != nil {
		writeRPC(w, http.StatusBadRequest, rpcResponse{Error: err.Error()})
		return
	}
	futures := make([]raft.ApplyFuture, len(cmds))
	errs := make([]error, len(cmds))
	stalledCh, stalled := n.storage.stateStalled()
	for i, cmd := range cmds {
		switch {
		case n.closed.Load():
			errs[i] = raft.ErrRaftShutdown
		case stalled != nil:
			errs[i] = stalledWrite(stalled)
		default:
			futures[i], errs[i] = n.propose(cmd, leaderWait)
		}
	}
	deadline := time.Now().Add(leaderWait)
	out := rpcBatchResponse{Items: make([]rpcItem, len(cmds))}
	for i, f := range futures {
		var idx uint64
		err := errs[i]
		if f != nil {
			if err = n.awaitApplied(ctx, f, time.Until(deadline), stalledCh); err == nil {
				idx = f.Index()
				if res, ok := f.Response().(error); ok && res != nil {
					err = res
				}
			}
		}
		out.Items[i].Status, out.Items[i].rpcResponse = applyAnswer(idx, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(out)
}

// applyAnswer is the answer of the apply call to a command applied at
// index idx with err.
func applyAnswer(idx uint64, err error) (int, rpcResponse) {
	resp := rpcResponse{Index: idx, Result: store.ResultName(err)}
	if err != nil && resp.Result == "" {
		status := http.StatusInternalServerError
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			status = http.StatusServiceUnavailable
		}
		resp.Error = err.Error()
		return status, resp
	}
	return http.StatusOK, resp
}
