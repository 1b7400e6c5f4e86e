package auth

import (
	"context"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/sigv4"
)

// TestCheckSecretAndResolve: the console's sign-in check refuses what a
// signature check refuses, and Resolve follows the key afterwards: a
// disabled or deleted key, or expired temporary credentials, are refused
// at once.
func TestCheckSecretAndResolve(t *testing.T) {
	a, _, clk := newTestAuth(t)
	ctx := context.Background()
	k := newUser(t, a, "alice", policyGet)
	admin(t, a, "CreateRole", &AdminRequest{RoleName: "reader", PolicyDocument: policyGet})
	temp := admin(t, a, "AssumeRole", &AdminRequest{RoleName: "reader", DurationSeconds: 900}).(map[string]any)["Credentials"].(*AccessKeyInfo)

	for _, tc := range []struct {
		name              string
		id, secret, token string
		code              string // "" = accepted
	}{
		{"long-term key", k.AccessKeyId, k.SecretAccessKey, "", ""},
		{"wrong secret", k.AccessKeyId, k.SecretAccessKey + "x", "", sigv4.CodeUnrecognizedClient},
		{"a token on a long-term key", k.AccessKeyId, k.SecretAccessKey, "t", sigv4.CodeUnrecognizedClient},
		{"unknown key", "AKIAUNKNOWN000000000", k.SecretAccessKey, "", sigv4.CodeUnrecognizedClient},
		{"temporary credentials", temp.AccessKeyId, temp.SecretAccessKey, temp.SessionToken, ""},
		{"temporary without the token", temp.AccessKeyId, temp.SecretAccessKey, "", sigv4.CodeUnrecognizedClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, exp, err := a.CheckSecret(ctx, tc.id, tc.secret, tc.token)
			if tc.code != "" {
				wantSigv4Error(t, err, tc.code, textInvalidToken)
				return
			}
			if err != nil || id.AccessKeyID != tc.id {
				t.Fatalf("got %v, %v; want the key's identity", id, err)
			}
			if want := tc.token != ""; !exp.IsZero() != want {
				t.Errorf("expiry %v: want one only for temporary credentials", exp)
			}
		})
	}

	clk.Set(start.Add(15 * time.Minute))
	_, _, err := a.Resolve(ctx, temp.AccessKeyId)
	wantSigv4Error(t, err, sigv4.CodeExpiredToken, textExpiredToken)
	if _, _, err := a.Resolve(ctx, k.AccessKeyId); err != nil {
		t.Fatalf("Resolve alice: %v", err)
	}
	admin(t, a, "UpdateAccessKey", &AdminRequest{AccessKeyId: k.AccessKeyId, Status: "Inactive"})
	_, _, err = a.Resolve(ctx, k.AccessKeyId)
	wantSigv4Error(t, err, sigv4.CodeUnrecognizedClient, textInvalidToken)
	admin(t, a, "DeleteAccessKey", &AdminRequest{AccessKeyId: k.AccessKeyId})
	_, _, err = a.Resolve(ctx, k.AccessKeyId)
	wantSigv4Error(t, err, sigv4.CodeUnrecognizedClient, textInvalidToken)
}
