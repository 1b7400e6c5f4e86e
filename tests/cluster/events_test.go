package cluster_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// adminCall calls Paramstore.<op> on n, signed with the root key.
func (c *cluster) adminCall(n *node, op string, in any) error {
	creds := c.credentials()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, n.endpoint()+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "Paramstore."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.ID, SecretAccessKey: creds.Secret},
		req, hex.EncodeToString(sum[:]), "ssm", "us-east-1", time.Now())
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, raw)
	}
	return nil
}

// An Expiration policy due after the leader is killed is carried out by
// the new leader, once: one Policy Action and one Delete event (distinct
// ids; redeliveries of the same id are allowed and counted).
func TestExpirationSurvivesLeaderKill(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(30 * time.Second)
	secret := []byte("cluster-secret")
	var mu sync.Mutex
	ids := map[string]string{} // id -> "detail-type/operation-or-policy-type name"
	deliveries := 0
	deleted := make(chan struct{}, 16)
	barrier := make(chan struct{}, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		if !hmac.Equal([]byte("sha256="+hex.EncodeToString(m.Sum(nil))), []byte(r.Header.Get("X-Paramstore-Signature"))) {
			w.WriteHeader(401)
			return
		}
		var ev struct {
			ID     string `json:"id"`
			Type   string `json:"detail-type"`
			Detail struct {
				Operation  string `json:"operation"`
				PolicyType string `json:"policy-type"`
				Name       string `json:"name"`
			} `json:"detail"`
		}
		json.Unmarshal(body, &ev)
		mu.Lock()
		deliveries++
		_, dup := ids[ev.ID]
		ids[ev.ID] = ev.Detail.Operation + ev.Detail.PolicyType + " " + ev.Detail.Name
		mu.Unlock()
		if !dup && ev.Detail.Operation == "Delete" {
			deleted <- struct{}{}
		}
		if !dup && ev.Detail.Name == "/after" {
			barrier <- struct{}{}
		}
	}))
	defer rcv.Close()
	if err := c.adminCall(leader, "PutNotification", map[string]string{"Name": "ops", "Url": rcv.URL, "Secret": string(secret)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl := c.client(leader, false, 10*time.Second)
	expiry := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	pol := `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"` + expiry + `"}}]`
	_, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/expiring"), Value: aws.String("v"),
		Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced, Policies: &pol})
	if err != nil {
		t.Fatal(err)
	}
	leader.kill()
	next := c.leader(30 * time.Second)
	t.Logf("killed leader %s; new leader %s", leader.id, next.id)
	select {
	case <-deleted:
	case <-time.After(90 * time.Second):
		t.Fatalf("the parameter never expired")
	}
	// Commit order per subscription: once /after's Create arrives, every
	// event committed before it has too.
	cl = c.client(next, false, 10*time.Second)
	if _, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/after"), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-barrier:
	case <-time.After(60 * time.Second):
		t.Fatalf("the barrier event never arrived")
	}
	if _, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/expiring")}); err == nil {
		t.Errorf("/expiring still exists")
	}
	mu.Lock()
	defer mu.Unlock()
	count := map[string]int{}
	for _, what := range ids {
		count[what]++
	}
	t.Logf("events by kind: %v; %d deliveries of %d distinct events (%d redelivered)", count, deliveries, len(ids), deliveries-len(ids))
	if count["Expiration /expiring"] != 1 || count["Delete /expiring"] != 1 || count["Create /expiring"] != 1 {
		t.Errorf("want one Create, one Expiration and one Delete of /expiring, got %v", count)
	}
}
