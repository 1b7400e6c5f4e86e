package e2e_test

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"testing"
	"time"
)

// readyIndexes reads the raft commit index and the state machine's applied
// index from /readyz.
func readyIndexes(url string) (commit, state uint64, err error) {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Commit uint64 `json:"commit_index"`
		State  uint64 `json:"state_applied_index"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.Commit, st.State, err
}

// TestCrashBetweenLogAndState kills the server with SIGKILL at a moment
// when the raft log holds committed entries that the state machine has not
// committed yet (/readyz: commit_index above state_applied_index), under
// write load. After the restart every acknowledged write is there, and the
// state machine reaches at least the commit index seen before the kill:
// the entries only the log held were applied from it.
func TestCrashBetweenLogAndState(t *testing.T) {
	rounds := crashRounds(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d, %d rounds", seed, rounds)
	rng := rand.New(rand.NewSource(seed))
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, snapshotFlags...)
	var all []ackedWrite
	gaps := 0
	for round := range rounds {
		load := startWriteLoad(t, srv, round, 16, rng.Int63())
		select {
		case <-load.acked:
		case <-time.After(30 * time.Second):
			load.stop(srv.Kill)
			t.Fatalf("round %d: no write acknowledged within 30s", round)
		}
		// Kill as soon as the log is seen ahead of the state machine (a
		// few hundred polls at most; on a machine too fast to show a gap,
		// kill anyway, and say so).
		var commit, state uint64
		gap := false
		for range 500 {
			c, s, err := readyIndexes(srv.URL())
			if err != nil {
				t.Fatalf("round %d: /readyz: %v", round, err)
			}
			commit, state = c, s
			if gap = c > s; gap {
				break
			}
		}
		acks := load.stop(srv.Kill)
		if gap {
			gaps++
		}
		all = append(all, acks...)
		srv = startServer(t, dataDir, snapshotFlags...)
		// verifyAcked's reads are linearizable: they wait until the state
		// machine has applied the commit index, which covers every entry
		// committed before the kill.
		found := verifyAcked(t, srv, all)
		_, after, err := readyIndexes(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		if gap && after < commit {
			t.Errorf("round %d: state machine at index %d after restart and reads, below the commit index %d seen before the kill", round, after, commit)
		}
		t.Logf("round %d: killed with commit index %d, state machine at %d (log ahead: %v); after restart the state machine is at %d; %d acknowledged writes in total, %d found",
			round, commit, state, gap, after, len(all), found)
		if found != len(all) {
			t.Fatalf("round %d: found %d of %d acknowledged writes after restart", round, found, len(all))
		}
	}
	t.Logf("the log was ahead of the state machine at %d of %d kills", gaps, rounds)
	if gaps == 0 {
		t.Errorf("no kill happened while the log was ahead of the state machine: the test did not test what it names")
	}
}
