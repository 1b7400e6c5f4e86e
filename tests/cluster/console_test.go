package cluster_test

import (
	"crypto/tls"
	"encoding/json"
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
	ms := consoleCluster(t, c, leader)
	if len(ms) != 3 {
		t.Fatalf("members: got %+v, want 3", ms)
	}
	leaders := 0
	for _, m := range ms {
		if !m.Ready || m.Status.CommitIndex == 0 || m.Error != "" {
			t.Errorf("member %s: got %+v, want ready with a commit index", m.NodeID, m)
		}
		if m.Leader {
			leaders++
			if m.NodeID != leader.id || m.Status.State != "Leader" {
				t.Errorf("leader row: got %+v, want %s in state Leader", m, leader.id)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("got %d leaders, want 1", leaders)
	}
	down := c.others(leader)[0]
	down.kill()
	for _, m := range consoleCluster(t, c, leader) {
		switch {
		case m.NodeID == down.id && (m.Ready || !strings.Contains(m.Error, "unreachable")):
			t.Errorf("killed member %s: got %+v, want unreachable", m.NodeID, m)
		case m.NodeID != down.id && !m.Ready:
			t.Errorf("member %s: got %+v, want ready", m.NodeID, m)
		}
	}
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
	ms := consoleCluster(t, c, leader)
	if len(ms) != 3 {
		t.Fatalf("members: got %+v, want 3", ms)
	}
	for _, m := range ms {
		if !m.Ready || m.Status.CommitIndex == 0 || m.Error != "" {
			t.Errorf("member %s: got %+v, want ready with a commit index", m.NodeID, m)
		}
	}
	down := c.others(leader)[0]
	down.kill()
	for _, m := range consoleCluster(t, c, leader) {
		if m.NodeID == down.id && (m.Ready || !strings.Contains(m.Error, "unreachable")) {
			t.Errorf("killed member %s: got %+v, want unreachable", m.NodeID, m)
		}
	}
}
