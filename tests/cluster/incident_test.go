package cluster_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testproc"
)

type clusterIncident struct {
	ID       string     `json:"id"`
	Source   string     `json:"source"`
	Kind     string     `json:"kind"`
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended"`
	Timeline []struct {
		Time  time.Time `json:"time"`
		Event string    `json:"event"`
	} `json:"timeline"`
}

// listIncidents runs `paramstore incidents list --json` against node n.
func (c *cluster) listIncidents(t *testing.T, n *node) ([]clusterIncident, error) {
	out, err := testproc.Command(t, "incidents", "list", "--json", "--endpoint", n.endpoint(),
		"--credentials-file", filepath.Join(c.nodes[0].dataDir, "root-credentials")).Output()
	if err != nil {
		return nil, err
	}
	var list struct{ Incidents []clusterIncident }
	err = json.Unmarshal(out, &list)
	return list.Incidents, err
}

func quorumIncidents(incs []clusterIncident) []clusterIncident {
	var out []clusterIncident
	for _, inc := range incs {
		if inc.Kind == "quorum-lost" {
			out = append(out, inc)
		}
	}
	return out
}

// TestQuorumLossIncident: a 3-node cluster loses two nodes, so quorum, and
// regains them: the survivor records one incident with both ends, and once
// the cluster writes again every node lists it (it is replicated state).
func TestQuorumLossIncident(t *testing.T) {
	c := startCluster(t, 3)
	l := c.leader(30 * time.Second)
	others := c.others(l)
	others[0].kill()
	others[1].kill()
	poll := func(what string, n *node, cond func([]clusterIncident) bool) []clusterIncident {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			incs, err := c.listIncidents(t, n)
			if err == nil && cond(incs) {
				return incs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s on %s: not true after 60s (last: %v, %+v)", what, n.id, err, incs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	poll("an open quorum-lost incident", l, func(incs []clusterIncident) bool {
		q := quorumIncidents(incs)
		return len(q) == 1 && q[0].Ended == nil
	})
	others[0].start()
	others[1].start()
	c.leader(60 * time.Second)
	for _, n := range c.nodes {
		incs := poll("the ended incident, replicated", n, func(incs []clusterIncident) bool {
			q := quorumIncidents(incs)
			return len(q) == 1 && q[0].Ended != nil
		})
		inc := quorumIncidents(incs)[0]
		if inc.Source != "server" || !inc.Ended.After(inc.Started) || len(inc.Timeline) < 3 {
			t.Errorf("%s: incident %+v", n.id, inc)
		}
		last := inc.Timeline[len(inc.Timeline)-1].Event
		if !strings.Contains(last, "quorum regained") {
			t.Errorf("%s: last timeline entry %q, want quorum regained", n.id, last)
		}
		for i := 1; i < len(inc.Timeline); i++ {
			if inc.Timeline[i].Time.Before(inc.Timeline[i-1].Time) {
				t.Errorf("%s: timeline out of order: %+v", n.id, inc.Timeline)
			}
		}
	}
	out, err := testproc.Command(t, "incidents", "report", quorumIncidents(poll("list", c.nodes[2], func([]clusterIncident) bool { return true }))[0].ID,
		"--endpoint", c.nodes[2].endpoint(), "--credentials-file", filepath.Join(c.nodes[0].dataDir, "root-credentials")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "## Timeline") {
		t.Fatalf("incidents report: %v\n%s", err, out)
	}
	t.Logf("server incident report:\n%s", out)
}
