package raftstore

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log output written from raft's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLeadershipLogged: a node that becomes the leader says so in its log,
// with the term. Raft's own lines for an election are below the level its
// logger keeps, so a step-down under load ("failed to contact quorum of
// nodes, stepping down") used to be followed by no line naming the new
// leader, and the refused reads of the election looked like a mystery.
func TestLeadershipLogged(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	cfg := testConfig(t, t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n := openNode(t, cfg)
	defer n.Close()
	// A deadline for the condition (leaderWatch logs after raft's
	// notification), not a measurement.
	deadline := time.Now().Add(clusterWait)
	for !strings.Contains(logs.String(), "raft: this node is now the leader") {
		if time.Now().After(deadline) {
			t.Fatalf("no leadership line in the log of the elected node:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	line := logs.String()[strings.Index(logs.String(), "raft: this node is now the leader"):]
	line, _, _ = strings.Cut(line, "\n")
	if !strings.Contains(line, "node="+cfg.NodeID) || !strings.Contains(line, "term=") || strings.Contains(line, "term=0 ") {
		t.Errorf("leadership line %q lacks the node or the term", line)
	}
}
