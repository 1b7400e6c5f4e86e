package auth

import (
	"testing"
)

// policySourceIP allows GetParameter from 10.0.0.0/8 only: a condition,
// so its identity's requests are decided with their condition keys.
const policySourceIP = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*",
	"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`

// TestAuthorizeContext checks that an identity whose policies read no
// condition key is decided without building the context, with no
// allocation, and one whose policies do is decided with it.
func TestAuthorizeContext(t *testing.T) {
	a, _, _ := newTestAuth(t)
	plainKey := newUser(t, a, "plain", policyGet)
	condKey := newUser(t, a, "cond", policySourceIP)
	plain, err := authenticate(t, a, plainKey.AccessKeyId, plainKey.SecretAccessKey, "")
	if err != nil {
		t.Fatal(err)
	}
	cond, err := authenticate(t, a, condKey.AccessKeyId, condKey.SecretAccessKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if plain.context || !cond.context {
		t.Fatalf("Identity.context: plain %v, cond %v; want false, true", plain.context, cond.context)
	}
	for _, tt := range []struct {
		name    string
		id      *Identity
		ip      string
		action  string
		allowed bool
	}{
		{"plain allowed", plain, "192.0.2.1", "ssm:GetParameter", true},
		{"plain denied", plain, "192.0.2.1", "ssm:PutParameter", false},
		{"condition met", cond, "10.1.2.3", "ssm:GetParameter", true},
		{"condition not met", cond, "192.0.2.1", "ssm:GetParameter", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Request{ID: tt.id, SourceIP: tt.ip, Region: testRegion, Now: start}).Authorize(tt.action, paramARN, map[string]string{"env": "prod"})
			if (err == nil) != tt.allowed {
				t.Errorf("Authorize(%s) from %s = %v, want allowed %v", tt.action, tt.ip, err, tt.allowed)
			}
		})
	}
	req := &Request{ID: plain, SourceIP: "192.0.2.1", Region: testRegion, Now: start}
	if n := testing.AllocsPerRun(100, func() {
		if err := req.Authorize("ssm:GetParameter", paramARN, map[string]string{"env": "prod"}); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Authorize of an identity without conditions allocates %v times, want 0", n)
	}
}

// BenchmarkAuthorize measures one policy decision of a user, a request's
// first (the context, when needed, is built once per request).
func BenchmarkAuthorize(b *testing.B) {
	for _, bc := range []struct{ name, policy string }{
		{"actions", policyGet},
		{"condition", policySourceIP},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, _, _ := newTestAuth(b)
			key := newUser(b, a, "u", bc.policy)
			id, err := authenticate(b, a, key.AccessKeyId, key.SecretAccessKey, "")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				req := Request{ID: id, SourceIP: "10.1.2.3", Region: testRegion, Now: start}
				if err := req.Authorize("ssm:GetParameter", paramARN, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
