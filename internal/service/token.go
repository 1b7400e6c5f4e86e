package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/paramstore/paramstore/internal/ssm"
)

// Pagination tokens (spec §13): base64url JSON of the operation, tenancy,
// a hash of the request (without MaxResults) and the last key returned,
// followed by a MAC under a key derived from the master key, so every node
// of a cluster accepts the tokens of the others.

type tokenBody struct {
	V int    `json:"v"`
	O string `json:"o"`
	T string `json:"t"`
	H string `json:"h"`
	K string `json:"k"`
}

type token struct {
	s    *Service
	body tokenBody
}

// newToken prepares tokens for one request; request is a canonical rendering
// of every input that must not change between pages.
func (s *Service) newToken(op string, t ssm.Tenancy, request string) *token {
	h := sha256.Sum256([]byte(request))
	return &token{s: s, body: tokenBody{V: 1, O: op, T: t.Key(), H: hex.EncodeToString(h[:12])}}
}

func (tk *token) seal(lastKey string) string {
	b := tk.body
	b.K = lastKey
	raw, _ := json.Marshal(b)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	mac := tk.s.kr.MAC("next-token", []byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac[:16])
}

// open verifies a token and returns its last key.
func (tk *token) open(text string) (string, error) {
	payload, sig, ok := strings.Cut(text, ".")
	if !ok {
		return "", ssm.ErrInvalidNextToken()
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return "", ssm.ErrInvalidNextToken()
	}
	want := tk.s.kr.MAC("next-token", []byte(payload))[:16]
	if !hmac.Equal(got, want) {
		return "", ssm.ErrInvalidNextToken()
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", ssm.ErrInvalidNextToken()
	}
	var b tokenBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", ssm.ErrInvalidNextToken()
	}
	if b.V != 1 || b.O != tk.body.O || b.T != tk.body.T || b.H != tk.body.H {
		return "", ssm.ErrInvalidNextToken()
	}
	return b.K, nil
}
