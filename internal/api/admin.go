package api

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/paramstore/paramstore/internal/ssm"
)

// The admin API: keyring management for `paramstore keys`. It is not yet
// authenticated (the security work adds SigV4 and policies to it).

type createKeyRequest struct {
	Region      string `json:"Region"`
	Alias       string `json:"Alias"`
	Description string `json:"Description"`
}

func (h *Handler) adminError(w http.ResponseWriter, err error) {
	e := ssm.AsError(err)
	if e.Code == ssm.CodeInternal {
		h.log.Error("admin request failed", "error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.HTTPStatus())
	w.Write(errorBody(e))
}

func (h *Handler) tenancy(region string) (ssm.Tenancy, error) {
	if region == "" {
		region = h.cfg.DefaultRegion
	}
	if !regionRe.MatchString(region) {
		return ssm.Tenancy{}, ssm.ErrValidation("Invalid region " + region)
	}
	return ssm.Tenancy{Account: h.cfg.Account, Region: region}, nil
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	var req createKeyRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = decode(body, &req)
	}
	if err != nil {
		h.adminError(w, err)
		return
	}
	t, err := h.tenancy(req.Region)
	if err != nil {
		h.adminError(w, err)
		return
	}
	info, err := h.svc.CreateKey(r.Context(), t, req.Alias, req.Description)
	if err != nil {
		h.adminError(w, err)
		return
	}
	h.log.Info("key created", "key_id", info.KeyID, "alias", info.Alias, "region", t.Region)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"Key": info})
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	t, err := h.tenancy(r.URL.Query().Get("region"))
	if err != nil {
		h.adminError(w, err)
		return
	}
	keys, err := h.svc.ListKeys(r.Context(), t)
	if err != nil {
		h.adminError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"Keys": keys})
}
