package raftstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/tlsconf"
)

// The cluster RPCs travel over the nodes' API listeners, under
// /_paramstore/cluster/, authenticated with an HMAC of the cluster key over
// a timestamp, the path and the body:
//
//	POST apply      body: an encoded command     -> {"index": n, "result": store.ResultName}
//	POST applybatch body: commands (forward.go)  -> {"items": [{"status": s, "index": n, "result": ...}, ...]}
//	POST readindex                               -> {"index": n}
//	POST planindex                               -> {"index": n}   (a follower's write plan, planIndex)
//	POST join       body: joinRequest            -> {}
//	POST dropcompact  body: an index (decimal)   -> {}   (logcodec.go)
//	POST fault      body: Faults                 -> {}   (fault.go; with Config.FaultInjection only)
//
// The index of readindex is the one the state machine must reach (see
// fsmIndex): the commit index may be a no-op or a barrier, which never
// reach it.
const (
	rpcPrefix     = "/_paramstore/cluster/"
	rpcAuthHeader = "X-Paramstore-Cluster-Auth"
	rpcMaxSkew    = 60 * time.Second
	rpcMaxBody    = 8 << 20
)

type rpcClient struct {
	key  []byte
	http *http.Client
	// With peer TLS, calls go over https with the peer certificate and
	// ALPN tlsconf.PeerALPN (an http:// base is dialed as https://); in
	// the transition window, a member that does not speak TLS yet is
	// called as before, with plain.
	peer  *http.Client
	plain *http.Client
	log   *slog.Logger
}

// rpcIdleConns is how many idle connections to one member the cluster
// RPCs keep. A follower forwards every write its clients make, as many at
// once as it has clients writing: with fewer idle connections than that
// (net/http's default is 2), most forwarded writes dialed a connection of
// their own, and the leader accepted and closed it, a tenth of the
// cluster's CPU per write under a write load (and a TLS handshake each
// with peer TLS).
const rpcIdleConns = 256

func newRPCClient(key []byte, peer *tlsconf.Peer, transition bool, log *slog.Logger) *rpcClient {
	plain := http.DefaultTransport.(*http.Transport).Clone()
	plain.MaxIdleConns, plain.MaxIdleConnsPerHost = rpcIdleConns, rpcIdleConns
	c := &rpcClient{key: key, http: &http.Client{Timeout: 15 * time.Second, Transport: plain}, log: log}
	if peer != nil {
		c.peer = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			TLSClientConfig: peer.ClientConfig(), TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConns: rpcIdleConns, MaxIdleConnsPerHost: rpcIdleConns, IdleConnTimeout: 90 * time.Second,
		}}
		if transition {
			c.plain = c.http
		}
		c.http = c.peer
	}
	return c
}

// do sends a built request: over peer TLS when configured (falling back
// to the member's plain URL in the transition window when it does not
// speak TLS yet).
func (c *rpcClient) do(req *http.Request, body []byte) (*http.Response, error) {
	if c.peer == nil {
		return c.http.Do(req)
	}
	orig := *req.URL
	req.URL.Scheme = "https"
	resp, err := c.peer.Do(req)
	if err == nil || c.plain == nil || tlsconf.IsCertificateError(err) || req.Context().Err() != nil {
		if err != nil {
			c.log.Warn("cluster call over peer TLS failed", "url", orig.Redacted(), "error", err)
		}
		return resp, err
	}
	c.log.Info("member does not speak peer TLS yet; plaintext in the transition window", "url", orig.Redacted(), "error", err)
	retry := req.Clone(req.Context())
	retry.URL = &orig
	retry.Body = io.NopCloser(bytes.NewReader(body))
	return c.plain.Do(retry)
}

func rpcMAC(key []byte, ts, path string, body []byte) string {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "\n" + path + "\n"))
	m.Write(sum[:])
	return hex.EncodeToString(m.Sum(nil))
}

type rpcResponse struct {
	Index  uint64 `json:"index"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// post sends the call name with body to the member at base.
func (c *rpcClient) post(ctx context.Context, base, name string, body []byte) (*http.Response, error) {
	path := rpcPrefix + name
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("raftstore: %s: %w", name, err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(rpcAuthHeader, ts+":"+rpcMAC(c.key, ts, path, body))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return resp, nil
}

func (c *rpcClient) call(ctx context.Context, base, name string, body []byte) (*rpcResponse, error) {
	resp, err := c.post(ctx, base, name, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("raftstore: %s: read the answer of %s: %w", name, base, err)
	}
	var out rpcResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("raftstore: %s: HTTP %d: %s", name, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return &out, out.err(name, resp.StatusCode)
}

// err is the error the answer out to the call name with HTTP status
// status stands for: a state machine result (store.ResultNamed), or a
// failure of the call.
func (out *rpcResponse) err(name string, status int) error {
	if e := store.ResultNamed(out.Result); e != nil {
		if out.Error != "" {
			return fmt.Errorf("%w: %s", e, out.Error)
		}
		return e
	}
	switch {
	case status == http.StatusNotFound && out.Error == unknownCall:
		return fmt.Errorf("raftstore: %s: %w", name, errUnknownCall)
	case status == http.StatusServiceUnavailable:
		return fmt.Errorf("%w: %s", ErrNotReady, out.Error)
	case status != http.StatusOK:
		return fmt.Errorf("raftstore: %s: %s", name, out.Error)
	}
	return nil
}

func (c *rpcClient) apply(ctx context.Context, base string, cmd []byte) (uint64, error) {
	out, err := c.call(ctx, base, "apply", cmd)
	if out == nil {
		return 0, err
	}
	return out.Index, err
}

func (c *rpcClient) readIndex(ctx context.Context, base string) (uint64, error) {
	out, err := c.call(ctx, base, "readindex", nil)
	if err != nil {
		return 0, err
	}
	return out.Index, nil
}

func (c *rpcClient) planIndex(ctx context.Context, base string) (uint64, error) {
	out, err := c.call(ctx, base, "planindex", nil)
	if err != nil {
		return 0, err
	}
	return out.Index, nil
}

// unknownCall is the error a member answers to a call it does not know
// (one of a newer version); the caller sees errUnknownCall.
const unknownCall = "unknown cluster call"

var errUnknownCall = errors.New(unknownCall)

type joinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft"`
	APIAddr  string `json:"api"`
	NonVoter bool   `json:"nonVoter"`
	// KeyCheck is the key check value of the node's master key: the
	// leader refuses a node whose value differs from the cluster's.
	KeyCheck []byte `json:"keyCheck,omitempty"`
	// Codecs are the log encodings beyond JSON the node decodes
	// (logcodec.go); an older version sends none.
	Codecs []string `json:"codecs,omitempty"`
}

// Handler serves the cluster RPCs; mount it at /_paramstore/cluster/.
func (n *Node) Handler() http.Handler {
	return http.HandlerFunc(n.serveRPC)
}

func writeRPC(w http.ResponseWriter, status int, r rpcResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(r)
}

func (n *Node) serveRPC(w http.ResponseWriter, r *http.Request) {
	if n.cfg.Bind == "" || r.Method != http.MethodPost {
		writeRPC(w, http.StatusNotFound, rpcResponse{Error: "not a cluster member"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, rpcMaxBody))
	if err != nil {
		writeRPC(w, http.StatusBadRequest, rpcResponse{Error: "read body"})
		return
	}
	// With peer TLS the call must come over a connection that negotiated
	// the peer protocol, which required a certificate of the peer CA
	// (fault, a test setting, keeps the cluster key alone).
	name := strings.TrimPrefix(r.URL.Path, rpcPrefix)
	if n.cfg.PeerTLS != nil && !n.cfg.PeerTLSTransition && name != "fault" {
		var err error = errors.New("not over TLS")
		if r.TLS != nil {
			err = n.cfg.PeerTLS.VerifyClient(r.TLS.PeerCertificates)
		}
		if err != nil {
			n.log.Warn("refused a cluster call that did not come over peer TLS", "remote", r.RemoteAddr, "call", name, "error", err)
			writeRPC(w, http.StatusForbidden, rpcResponse{Error: "this node requires peer TLS for cluster calls"})
			return
		}
	}
	ts, mac, _ := strings.Cut(r.Header.Get(rpcAuthHeader), ":")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > rpcMaxSkew ||
		!hmac.Equal([]byte(mac), []byte(rpcMAC(n.cfg.ClusterKey, ts, r.URL.Path, body))) {
		writeRPC(w, http.StatusForbidden, rpcResponse{Error: "cluster authentication failed"})
		return
	}
	switch strings.TrimPrefix(r.URL.Path, rpcPrefix) {
	case "apply":
		if n.raft.State() != raft.Leader {
			writeRPC(w, http.StatusServiceUnavailable, rpcResponse{Error: "not the leader"})
			return
		}
		idx, err := n.applyLocal(r.Context(), body, leaderWait)
		status, resp := applyAnswer(idx, err)
		writeRPC(w, status, resp)
	case "applybatch":
		n.serveApplyBatch(r.Context(), w, body)
	case "readindex":
		if n.raft.State() != raft.Leader {
			writeRPC(w, http.StatusServiceUnavailable, rpcResponse{Error: "not the leader"})
			return
		}
		idx, err := n.readIndex()
		if err != nil {
			writeRPC(w, http.StatusServiceUnavailable, rpcResponse{Error: err.Error()})
			return
		}
		writeRPC(w, http.StatusOK, rpcResponse{Index: idx})
	case "planindex":
		idx, err := n.planIndex()
		if err != nil {
			writeRPC(w, http.StatusServiceUnavailable, rpcResponse{Error: err.Error()})
			return
		}
		writeRPC(w, http.StatusOK, rpcResponse{Index: idx})
	case "join":
		var jr joinRequest
		if err := json.Unmarshal(body, &jr); err != nil || jr.ID == "" || jr.RaftAddr == "" || jr.APIAddr == "" {
			writeRPC(w, http.StatusBadRequest, rpcResponse{Error: "bad join request"})
			return
		}
		if err := n.addMember(r.Context(), jr); err != nil {
			if errors.Is(err, store.ErrKeyMismatch) {
				writeRPC(w, http.StatusConflict, rpcResponse{Result: store.ResultName(store.ErrKeyMismatch),
					Error: "the node's master key is not the cluster's (key check values differ)"})
				return
			}
			status := http.StatusInternalServerError
			if errors.Is(err, ErrNotReady) || errors.Is(err, raft.ErrNotLeader) {
				status = http.StatusServiceUnavailable
			}
			writeRPC(w, status, rpcResponse{Error: err.Error()})
			return
		}
		writeRPC(w, http.StatusOK, rpcResponse{})
	case "dropcompact":
		if err := n.serveDropCompact(r.Context(), body); err != nil {
			writeRPC(w, http.StatusServiceUnavailable, rpcResponse{Error: err.Error()})
			return
		}
		writeRPC(w, http.StatusOK, rpcResponse{})
	case "fault":
		n.serveFault(w, body)
	default:
		writeRPC(w, http.StatusNotFound, rpcResponse{Error: unknownCall})
	}
}

// addMember adds (or re-registers) a node: on the leader directly, else by
// forwarding the request to the leader.
func (n *Node) addMember(ctx context.Context, jr joinRequest) error {
	if len(jr.KeyCheck) > 0 {
		// Any member can tell: the value is in the replicated state.
		kc, err := n.db.KeyCheck()
		if err != nil {
			return err
		}
		if kc != nil && !hmac.Equal(kc, jr.KeyCheck) {
			n.log.Warn("refused a node whose master key is not the cluster's", "node_id", jr.ID, "raft", jr.RaftAddr)
			return store.ErrKeyMismatch
		}
	}
	if n.raft.State() != raft.Leader {
		leader, err := n.leaderInfo()
		if err != nil {
			return err
		}
		body, _ := json.Marshal(jr)
		_, err = n.rpc.call(ctx, leader.APIAddr, "join", body)
		return err
	}
	if !slices.Contains(jr.Codecs, store.CodecCompact) {
		release, err := n.closeLogCodec(ctx, jr)
		if err != nil {
			return err
		}
		defer release()
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	present := false
	for _, s := range cf.Configuration().Servers {
		if s.ID == raft.ServerID(jr.ID) {
			if s.Address == raft.ServerAddress(jr.RaftAddr) && (s.Suffrage == raft.Nonvoter) == jr.NonVoter {
				present = true
				break
			}
			if err := n.changeVoters(n.raft.RemoveServer(s.ID, 0, leaderWait)); err != nil {
				return err
			}
		} else if s.Address == raft.ServerAddress(jr.RaftAddr) {
			return fmt.Errorf("raftstore: raft address %s already belongs to node %s", jr.RaftAddr, s.ID)
		}
	}
	if !present {
		var err error
		if jr.NonVoter {
			err = n.raft.AddNonvoter(raft.ServerID(jr.ID), raft.ServerAddress(jr.RaftAddr), 0, leaderWait).Error()
		} else {
			// Reads stop skipping the leadership check before the
			// configuration with the new voter is appended.
			n.beginVoterChange()
			err = n.raft.AddVoter(raft.ServerID(jr.ID), raft.ServerAddress(jr.RaftAddr), 0, leaderWait).Error()
			n.endVoterChange()
		}
		if err != nil {
			return err
		}
		n.log.Info("node added to the cluster", "node_id", jr.ID, "raft", jr.RaftAddr, "non_voter", jr.NonVoter)
	}
	cmd := &store.Command{Op: store.OpSetNode, Node: &store.NodeInfo{ID: jr.ID, APIAddr: jr.APIAddr, RaftAddr: jr.RaftAddr, Codecs: jr.Codecs}}
	return n.Apply(ctx, cmd)
}
