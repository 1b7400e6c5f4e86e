package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/internal/store/raftstore"
	"github.com/paramstore/paramstore/internal/testproc"
)

type clusterIncident struct {
	ID      string     `json:"id"`
	Source  string     `json:"source"`
	Kind    string     `json:"kind"`
	Node    string     `json:"node"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended"`
	Impact  struct {
		Requests, Failed, Throttled int64
	} `json:"impact"`
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

// TestQuorumLossIncident: a 3-node cluster loses two nodes, so quorum, and
// regains them: the survivor records one incident with both ends, and once
// the cluster writes again every node lists it (it is replicated state).
func TestQuorumLossIncident(t *testing.T) {
	c := startCluster(t, 3)
	l := c.leader(30 * time.Second)
	others := c.others(l)
	others[0].kill()
	others[1].kill()
	c.pollIncidents(t, "an open quorum-lost incident", l, func(incs []clusterIncident) bool {
		q := ofKind(incs, "quorum-lost")
		return len(q) == 1 && q[0].Ended == nil
	})
	others[0].start()
	others[1].start()
	c.leader(60 * time.Second)
	for _, n := range c.nodes {
		incs := c.pollIncidents(t, "the ended incident, replicated", n, func(incs []clusterIncident) bool {
			q := ofKind(incs, "quorum-lost")
			return len(q) == 1 && q[0].Ended != nil
		})
		inc := ofKind(incs, "quorum-lost")[0]
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
	out, err := testproc.Command(t, "incidents", "report", ofKind(c.pollIncidents(t, "list", c.nodes[2], func([]clusterIncident) bool { return true }), "quorum-lost")[0].ID,
		"--endpoint", c.nodes[2].endpoint(), "--credentials-file", filepath.Join(c.nodes[0].dataDir, "root-credentials")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "## Timeline") {
		t.Fatalf("incidents report: %v\n%s", err, out)
	}
	t.Logf("server incident report:\n%s", out)
}

// pollIncidents lists n's incidents until cond holds (60s at most).
func (c *cluster) pollIncidents(t *testing.T, what string, n *node, cond func([]clusterIncident) bool) []clusterIncident {
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

func ofKind(incs []clusterIncident, kind string) []clusterIncident {
	var out []clusterIncident
	for _, inc := range incs {
		if inc.Kind == kind {
			out = append(out, inc)
		}
	}
	return out
}

// TestNodeAndStorageIncidents: on a 3-node cluster, (1) a follower killed
// and restarted: the leader records a node-unreachable incident naming it,
// open while it is down and closed when it answers heartbeats again, with
// the calls the leader answered meanwhile as its impact; (2) the raft log
// of a follower failing with ENOSPC (raft fault injection): the follower
// records a storage incident with the error class, closed once its log
// writes succeed again.
func TestNodeAndStorageIncidents(t *testing.T) {
	c := startCluster(t, 3)
	l := c.leader(30 * time.Second)
	f := c.others(l)[0]
	ctx := context.Background()
	cl := c.client(l, false, 10*time.Second)
	if _, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/inc/a"), Value: aws.String("v"), Type: "String", Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	f.kill()
	c.pollIncidents(t, "an open node-unreachable incident", l, func(incs []clusterIncident) bool {
		q := ofKind(incs, "node-unreachable")
		return len(q) == 1 && q[0].Ended == nil
	})
	const reads = 5
	for range reads {
		if _, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/inc/a")}); err != nil {
			t.Fatalf("read with a follower down: %v", err)
		}
	}
	f.start()
	incs := c.pollIncidents(t, "the node-unreachable incident closed", l, func(incs []clusterIncident) bool {
		q := ofKind(incs, "node-unreachable")
		return len(q) == 1 && q[0].Ended != nil
	})
	inc := ofKind(incs, "node-unreachable")[0]
	first, last := inc.Timeline[0].Event, inc.Timeline[len(inc.Timeline)-1].Event
	if !strings.Contains(first, "node "+f.id+" unreachable") || !strings.Contains(last, "node "+f.id+" answers heartbeats again") {
		t.Errorf("node-unreachable timeline: %+v", inc.Timeline)
	}
	if inc.Node != l.id || inc.Impact.Requests < reads || inc.Impact.Failed != 0 {
		t.Errorf("node-unreachable incident: node %q impact %+v, want node %s and at least %d requests, none failed", inc.Node, inc.Impact, l.id, reads)
	}
	out, err := testproc.Command(t, "incidents", "report", inc.ID, "--endpoint", l.endpoint(),
		"--credentials-file", filepath.Join(c.nodes[0].dataDir, "root-credentials")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("| requests during the incident | %d |", inc.Impact.Requests)) {
		t.Fatalf("incidents report: %v\n%s", err, out)
	}
	t.Logf("server incident report:\n%s", out)

	f.waitReady(60 * time.Second)
	l = c.leader(30 * time.Second)
	f = c.others(l)[0]
	c.setFaults(f, raftstore.Faults{Storage: "ENOSPC"})
	cl = c.client(l, false, 10*time.Second)
	for i := 0; ; i++ {
		// Writes go on with the other two nodes; the follower fails to
		// append them to its log.
		if _, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/inc/a"), Value: aws.String(fmt.Sprint(i)), Type: "String", Overwrite: aws.Bool(true)}); err != nil {
			t.Fatalf("write with a follower's disk full: %v", err)
		}
		incs, err := c.listIncidents(t, f)
		if q := ofKind(incs, "storage"); err == nil && len(q) == 1 && q[0].Ended == nil {
			if ev := q[0].Timeline[0].Event; !strings.Contains(ev, "raft log write failed: ENOSPC") {
				t.Errorf("storage incident's first entry %q, want the raft log and ENOSPC", ev)
			}
			break
		}
		if i == 300 {
			t.Fatalf("no open storage incident on %s after %d writes: %v %+v", f.id, i, err, incs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.setFaults(f, raftstore.Faults{})
	if _, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/inc/a"), Value: aws.String("after"), Type: "String", Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	incs = c.pollIncidents(t, "the storage incident closed", f, func(incs []clusterIncident) bool {
		q := ofKind(incs, "storage")
		return len(q) == 1 && q[0].Ended != nil
	})
	if last := ofKind(incs, "storage")[0].Timeline; !strings.Contains(last[len(last)-1].Event, "raft log writes succeed again") {
		t.Errorf("storage incident's last entry: %+v", last)
	}
}
