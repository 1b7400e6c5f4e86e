package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/paramstore/paramstore/internal/auth"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/store/raftstore"
)

// Cluster is what the API needs from the raft node.
type Cluster interface {
	Status() raftstore.Status
	Handler() http.Handler
	Members() ([]raftstore.Member, error)
	RemoveMember(ctx context.Context, id string) error
	TransferLeadership(id string) error
	DB() *store.DB
	View(ctx context.Context, fn func(r *store.Reader) error) error
}

var _ Cluster = (*raftstore.Node)(nil)

type nodeInput struct {
	NodeId string `json:"NodeId"`
}

type membersOutput struct {
	Members []raftstore.Member `json:"Members"`
}

func clusterErr(err error) error {
	if err == nil {
		return nil
	}
	return ssm.NewError("ClusterOperationFailed", err.Error())
}

// authorizeCluster authorizes a membership operation on the cluster.
func (h *Handler) authorizeCluster(c service.Caller, action string) error {
	if c.Authz == nil {
		return nil
	}
	return c.Authz.Authorize(action, "arn:aws:paramstore::"+h.cfg.Account+":cluster", nil)
}

func (h *Handler) listNodes(ctx context.Context, c service.Caller, _ *struct{}) (*membersOutput, error) {
	if err := h.authorizeCluster(c, "paramstore:ListNodes"); err != nil {
		return nil, err
	}
	m, err := h.cfg.Cluster.Members()
	if err != nil {
		return nil, clusterErr(err)
	}
	return &membersOutput{Members: m}, nil
}

func (h *Handler) removeNode(ctx context.Context, c service.Caller, in *nodeInput) (*struct{}, error) {
	if err := h.authorizeCluster(c, "paramstore:RemoveNode"); err != nil {
		return nil, err
	}
	if in.NodeId == "" {
		return nil, ssm.ErrValidation("NodeId is required.")
	}
	h.log.Info("removing cluster member", "node_id", in.NodeId)
	return &struct{}{}, clusterErr(h.cfg.Cluster.RemoveMember(ctx, in.NodeId))
}

func (h *Handler) transferLeadership(ctx context.Context, c service.Caller, in *nodeInput) (*struct{}, error) {
	if err := h.authorizeCluster(c, "paramstore:TransferLeadership"); err != nil {
		return nil, err
	}
	return &struct{}{}, clusterErr(h.cfg.Cluster.TransferLeadership(in.NodeId))
}

// snapshot streams a consistent copy of this node's state (a backup) to a
// caller allowed paramstore:SaveSnapshot, signed like any API call (GET,
// empty body). X-Paramstore-Applied-Index tells how far it goes.
func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.NoAuth {
		id, region, err := h.cfg.Auth.Authenticate(r, nil)
		if err == nil {
			req := &auth.Request{ID: id, SourceIP: sourceIP(r), Secure: r.TLS != nil, Region: region, Now: h.cfg.Now()}
			err = req.Authorize("paramstore:SaveSnapshot", "arn:aws:paramstore::"+h.cfg.Account+":cluster", nil)
		}
		if err != nil {
			e := toSSMError(err)
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(e.HTTPStatus())
			w.Write(errorBody(e))
			return
		}
	}
	// Serve only state that is at least as new as the cluster's commit
	// index when the request arrived (a linearizable read).
	if err := h.cfg.Cluster.View(r.Context(), func(*store.Reader) error { return nil }); err != nil {
		h.log.Warn("snapshot refused", "error", err)
		http.Error(w, "snapshot: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	idx, _ := h.cfg.Cluster.DB().AppliedIndex()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Paramstore-Applied-Index", strconv.FormatUint(idx, 10))
	if _, err := h.cfg.Cluster.DB().WriteTo(w); err != nil {
		h.log.Error("snapshot stream failed", "error", err)
		// The client sees a truncated body and its restore check fails.
	}
	h.log.Info("snapshot saved by a client", "applied_index", idx)
}
