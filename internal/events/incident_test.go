package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/incident"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
	"github.com/paramstore/paramstore/internal/store"
)

// TestIncidentWebhook: a fault injected into a server (a drill incident)
// reaches a real receiver as a signed "Paramstore Incident" event when it
// opens, and again when the fault expires and the incident closes, with
// the impact the API edge counted (the failed calls of the fault). A
// subscription that selects another detail-type or a path gets neither;
// no event carries a parameter's value.
func TestIncidentWebhook(t *testing.T) {
	if incident.DetailType != store.KindIncident {
		t.Fatalf("incident.DetailType %q, store.KindIncident %q: want one name", incident.DetailType, store.KindIncident)
	}
	_, endpoint := servertest.Start(t, fastRetries, func(c *server.Config) { c.Raft.FaultInjection = true })
	ops := newReceiver(t, "ops-secret")
	changes := newReceiver(t, "changes-secret")
	for _, sub := range []map[string]string{
		{"Name": "ops", "Url": ops.srv.URL, "Secret": "ops-secret", "DetailType": "Paramstore Incident"},
		{"Name": "changes", "Url": changes.srv.URL, "Secret": "changes-secret", "DetailType": "Parameter Store Change"},
		{"Name": "app", "Url": changes.srv.URL, "Secret": "changes-secret", "Path": "/app"},
	} {
		if err := admin(t, endpoint, "PutNotification", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	client := servertest.Client(t, endpoint, region)
	ctx := context.Background()
	const secret = "do-not-leak-this-value"
	if _, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/x"), Value: aws.String(secret), Type: "SecureString"}); err != nil {
		t.Fatal(err)
	}
	changes.await(t, 2) // Create, to "changes" and to "app"

	if err := admin(t, endpoint, "InjectFault", map[string]any{"kind": "error", "duration": "3s", "operations": []string{"GetParameter"}}, nil); err != nil {
		t.Fatal(err)
	}
	ops.await(t, 1)
	const failedCalls = 3
	for range failedCalls {
		_, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/x")})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "InternalServerError" {
			t.Fatalf("read under the fault: got %v, want InternalServerError", err)
		}
	}
	ops.await(t, 1) // the fault expires after 3s: the incident closes
	evs, bodies, _ := ops.snapshot()
	if len(evs) != 2 {
		t.Fatalf("ops receiver: %d events, want 2 (opened, closed): %v", len(evs), bodies)
	}
	var opened, closed incident.Detail
	for i, d := range []*incident.Detail{&opened, &closed} {
		ev := evs[i]
		if ev.DetailType != "Paramstore Incident" || ev.Source != "paramstore" || ev.Account != "123456789012" || ev.Region != region || ev.Resources == nil {
			t.Errorf("event %d envelope: %+v", i, ev)
		}
		if err := json.Unmarshal(ev.Detail, d); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(bodies[i], secret) {
			t.Errorf("event %d carries the parameter's value: %s", i, bodies[i])
		}
	}
	if opened.State != "open" || opened.Ended != nil || opened.Kind != incident.KindDrill || opened.Node != "node1" ||
		!strings.Contains(opened.Summary, "fault injected: error") {
		t.Errorf("opened event: %+v", opened)
	}
	if closed.ID != opened.ID || closed.State != "closed" || closed.Ended == nil || !closed.Ended.After(closed.Started) ||
		!strings.Contains(closed.Summary, "fault expired") {
		t.Errorf("closed event: %+v", closed)
	}
	if closed.Impact.Requests != failedCalls || closed.Impact.Failed != failedCalls {
		t.Errorf("closed event impact: %+v, want %d failed of %d requests", closed.Impact, failedCalls, failedCalls)
	}
	if n := len(closed.Timeline); n == 0 || n > incident.DetailTimeline {
		t.Errorf("closed event timeline: %d entries, want 1..%d", n, incident.DetailTimeline)
	}
	t.Logf("incident webhook body (closed):\n%s", bodies[1])

	// The parameter subscriptions got no incident event.
	cevs, _, _ := changes.snapshot()
	for _, ev := range cevs {
		if ev.DetailType == "Paramstore Incident" {
			t.Errorf("a change or path subscription got an incident event: %+v", ev)
		}
	}
	var list events.ListOutput
	if err := admin(t, endpoint, "ListNotifications", map[string]string{}, &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Subscriptions {
		if s.Name != "ops" && s.Pending != 0 {
			t.Errorf("subscription %s: %d events pending, want 0 (an incident event queued for it?)", s.Name, s.Pending)
		}
	}
}
