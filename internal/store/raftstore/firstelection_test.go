package raftstore

import "testing"

func TestFirstElection(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{`2026-11-30T12:00:00.000Z [WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=`, true},
		{`2026-11-30T12:00:00.000Z [WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr=127.0.0.1:7000 last-leader-id=n2`, false},
		{`2026-11-30T12:00:00.000Z [WARN]  raft: Election timeout reached, restarting election`, false},
	} {
		if got := firstElection(tc.line); got != tc.want {
			t.Errorf("firstElection(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}
