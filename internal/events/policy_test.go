package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

// fakeClock is the injected clock of the service and the policy scan.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func withClock(clk *fakeClock) servertest.Option {
	return func(c *server.Config) {
		c.Now = clk.Now
		c.PolicyScanInterval = 5 * time.Millisecond
	}
}

func policyStatus(t *testing.T, c *ssm.Client, name string) map[string]string {
	t.Helper()
	out, err := c.DescribeParameters(context.Background(), &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{name}}}})
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, p := range out.Parameters {
		for _, pol := range p.Policies {
			st[*pol.PolicyType] = *pol.PolicyStatus
		}
	}
	return st
}

func TestPolicies(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	_, endpoint := servertest.Start(t, fastRetries, withClock(clk))
	rcv := newReceiver(t, "k")
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "p", "Url": rcv.srv.URL, "Secret": "k"}, nil); err != nil {
		t.Fatal(err)
	}
	c := servertest.Client(t, endpoint, region)
	ctx := context.Background()
	name := "/policy/temp"
	expiry := t0.Add(48 * time.Hour)
	policies := fmt.Sprintf(`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":%q}},`+
		`{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"1","Unit":"Days"}},`+
		`{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Hours"}}]`, expiry.Format(time.RFC3339))
	_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: &name, Value: aws.String("v"), Type: types.ParameterTypeString,
		Tier: types.ParameterTierAdvanced, Policies: &policies})
	if err != nil {
		t.Fatal(err)
	}
	rcv.await(t, 1) // Create
	if st := policyStatus(t, c, name); st["Expiration"] != "Pending" || st["ExpirationNotification"] != "Pending" || st["NoChangeNotification"] != "Pending" {
		t.Errorf("at creation: %v", st)
	}
	// 20h: the NoChangeNotification only.
	clk.Advance(20 * time.Hour)
	rcv.await(t, 1)
	// 24h: the ExpirationNotification.
	clk.Advance(4 * time.Hour)
	rcv.await(t, 1)
	if st := policyStatus(t, c, name); st["Expiration"] != "Pending" || st["ExpirationNotification"] != "Finished" || st["NoChangeNotification"] != "Finished" {
		t.Errorf("after the notifications: %v", st)
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: &name}); err != nil {
		t.Fatalf("expired early: %v", err)
	}
	// 48h: expiry: the policy action, then the delete.
	clk.Advance(24 * time.Hour)
	rcv.await(t, 2)
	evs, bodies, _ := rcv.snapshot()
	want := []string{"Create", "NoChangeNotification", "ExpirationNotification", "Expiration", "Delete"}
	for i, w := range want {
		d := detailOf(t, evs[i])
		got := fmt.Sprint(d["operation"])
		if evs[i].DetailType == "Parameter Store Policy Action" {
			got = fmt.Sprint(d["policy-type"])
			if d["parameter-name"] != name || d["name"] != name || d["action-status"] != "SUCCESS" || d["parameter-type"] != "String" || d["action-reason"] == "" {
				t.Errorf("policy event %d: %s", i, bodies[i])
			}
			var pc map[string]any
			if err := json.Unmarshal([]byte(fmt.Sprint(d["policy-content"])), &pc); err != nil || pc["Type"] != w {
				t.Errorf("policy-content of event %d: %v", i, d["policy-content"])
			}
		}
		if got != w {
			t.Errorf("event %d: %s, want %s", i, got, w)
		}
		t.Logf("receiver log: %s", bodies[i])
	}
	var nf *types.ParameterNotFound
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: &name}); !errors.As(err, &nf) {
		t.Errorf("after expiry: %v, want ParameterNotFound", err)
	}
	if len(evs) != len(want) {
		t.Errorf("%d events, want %d", len(evs), len(want))
	}
}
