package cluster_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testpki"
)

// consoleMember is a row of the console's cluster screen.
type consoleMember struct {
	NodeID string `json:"NodeId"`
	Leader bool
	Ready  bool
	Status struct {
		State       string `json:"state"`
		CommitIndex uint64 `json:"commit_index"`
	}
	Error string
}

// consoleCluster signs in to n's console with the root key and reads the
// cluster screen's data.
func consoleCluster(t *testing.T, c *cluster, n *node) []consoleMember {
	t.Helper()
	creds := c.credentials()
	hc := c.httpClient(30 * time.Second)
	req, _ := http.NewRequest(http.MethodPost, n.endpoint()+"/console/api/signin",
		strings.NewReader(`{"AccessKeyId":"`+creds.ID+`","SecretAccessKey":"`+creds.Secret+`"}`))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ CsrfToken string }
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("console sign-in on %s: %d", n.id, resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, n.endpoint()+"/console/api/cluster", strings.NewReader("{}"))
	req.Header.Set("X-Csrf-Token", s.CsrfToken)
	req.AddCookie(resp.Cookies()[0])
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Members []consoleMember }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("console cluster on %s: %d %v", n.id, resp.StatusCode, err)
	}
	return out.Members
}

// TestConsoleClusterScreen: the console's cluster screen shows every
// member's own readiness and raft state, read from its /readyz; a member
// that is down shows as unreachable, the others still ready.
func TestConsoleClusterScreen(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(30 * time.Second)
	ms := screenShows(t, c, leader, "every member ready, one leader", everyMemberReady)
	t.Logf("cluster screen: %+v", ms)
	down := c.others(leader)[0]
	down.kill()
	screenShows(t, c, leader, down.id+" unreachable, the others ready", func(ms []consoleMember) string {
		for _, m := range ms {
			switch {
			case m.NodeID == down.id && (m.Ready || !strings.Contains(m.Error, "unreachable")):
				return "killed member " + m.NodeID + " not shown unreachable"
			case m.NodeID != down.id && !m.Ready:
				return "member " + m.NodeID + " not ready"
			}
		}
		return ""
	})
}

// screenShows reads n's cluster screen until want accepts it (want returns
// "") and returns it; it fails the test with want's last reason after 30
// s. The screen shows each member's state as it is when read: a member
// that has not caught up yet, or an election (a starved leader steps
// down), passes.
func screenShows(t *testing.T, c *cluster, n *node, what string, want func([]consoleMember) string) []consoleMember {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms := consoleCluster(t, c, n)
		why := want(ms)
		if why == "" {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster screen of %s did not show %s within 30s: %s: %+v", n.id, what, why, ms)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// everyMemberReady accepts a screen of 3 members, each ready with a commit
// index and no error, exactly one of them the leader, in state Leader.
func everyMemberReady(ms []consoleMember) string {
	if len(ms) != 3 {
		return fmt.Sprintf("%d members, want 3", len(ms))
	}
	leaders := 0
	for _, m := range ms {
		if !m.Ready || m.Status.CommitIndex == 0 || m.Error != "" {
			return "member " + m.NodeID + " not ready with a commit index"
		}
		if m.Leader {
			leaders++
			if m.Status.State != "Leader" {
				return "leader row " + m.NodeID + " in state " + m.Status.State
			}
		}
	}
	if leaders != 1 {
		return fmt.Sprintf("%d leaders, want 1", leaders)
	}
	return ""
}

// TestConsoleClusterScreenPeerTLS: in a cluster with peer TLS whose API
// is HTTPS with a certificate of a private CA (which the nodes themselves
// do not trust), the cluster screen reads every member's /readyz through
// the peer-TLS client, as the cluster calls do: every member ready, none
// "unreachable". A member that is killed shows as unreachable.
func TestConsoleClusterScreenPeerTLS(t *testing.T) {
	peerCA, apiCA := testpki.NewCA(t, "peer CA"), testpki.NewCA(t, "API private CA")
	peer := peerTLSArgs(t, peerCA)
	c := startClusterWith(t, 3, &cluster{apiTLS: &tls.Config{RootCAs: apiCA.Pool()}, nodeArgs: func(n *node) []string {
		leaf := apiCA.Issue(t, n.id+"-api", "127.0.0.1")
		return append(peer(n), "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile)
	}}, nil)
	leader := c.leader(30 * time.Second)
	screenShows(t, c, leader, "every member ready, one leader", everyMemberReady)
	down := c.others(leader)[0]
	down.kill()
	screenShows(t, c, leader, down.id+" unreachable", func(ms []consoleMember) string {
		for _, m := range ms {
			if m.NodeID == down.id && (m.Ready || !strings.Contains(m.Error, "unreachable")) {
				return "killed member " + m.NodeID + " not shown unreachable"
			}
		}
		return ""
	})
}
