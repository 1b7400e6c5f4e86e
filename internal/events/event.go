// Package events turns the outbox of the state machine (store.Event) into
// EventBridge-shaped events and delivers them to webhook subscriptions:
// signed POSTs, at least once and in commit order per subscription, from a
// loop that runs on the raft leader only and resumes after a failover from
// the position replicated in each subscription (DESIGN.md decision 8, §3
// "Events"). It also implements the admin operations behind `paramstore
// notify` and the leader's scan of parameter policies.
package events

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
	"github.com/paramstore/paramstore/internal/webhook"
)

// Event is the EventBridge envelope.
type Event = webhook.Event

// IncidentSource is the source of incident events: they are Paramstore's
// own, not an AWS service's.
const IncidentSource = "paramstore"

// ChangeDetail is the detail of "Parameter Store Change".
type ChangeDetail struct {
	Operation   string `json:"operation"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Label       string `json:"label,omitempty"`
	FromVersion string `json:"fromVersion,omitempty"`
	ToVersion   string `json:"toVersion,omitempty"`
}

// PolicyDetail is the detail of "Parameter Store Policy Action". Both
// parameter-name and name are set: AWS's schema registry and its rule
// examples disagree on which one carries the name.
type PolicyDetail struct {
	PolicyType    string `json:"policy-type"`
	ParameterName string `json:"parameter-name"`
	Name          string `json:"name"`
	ParameterType string `json:"parameter-type"`
	ActionStatus  string `json:"action-status"`
	PolicyContent string `json:"policy-content"`
	ActionReason  string `json:"action-reason"`
}

func tenancyOf(key string) ssm.Tenancy {
	account, region, _ := strings.Cut(key, ":")
	return ssm.Tenancy{Account: account, Region: region}
}

func version(v int64) string {
	if v == 0 {
		return ""
	}
	return itoa(v)
}

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Render builds the EventBridge event of an outbox entry. It carries no
// parameter value: the outbox never holds one.
func Render(ev *store.Event) ([]byte, error) {
	t := tenancyOf(ev.Tenancy)
	if ev.Kind == store.KindIncident {
		// The detail was rendered by the server that recorded the
		// incident (incident.Detail): counts and words, never a value.
		return json.Marshal(Event{Version: "0", ID: ev.ID, DetailType: store.KindIncident, Source: IncidentSource,
			Account: t.Account, Time: time.UnixMilli(ev.Time).UTC().Format(time.RFC3339), Region: t.Region,
			Resources: []string{}, Detail: ev.Detail})
	}
	var detail any
	switch ev.Kind {
	case store.KindPolicy:
		detail = PolicyDetail{PolicyType: ev.PolicyType, ParameterName: ev.Name, Name: ev.Name, ParameterType: ev.Type,
			ActionStatus: ev.ActionStatus, PolicyContent: ev.PolicyContent, ActionReason: ev.ActionReason}
	default:
		detail = ChangeDetail{Operation: ev.Operation, Name: ev.Name, Type: ev.Type, Description: ev.Description,
			Label: ev.Label, FromVersion: version(ev.FromVersion), ToVersion: version(ev.ToVersion)}
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return nil, err
	}
	kind := ev.Kind
	if kind == "" {
		kind = store.KindChange
	}
	return json.Marshal(Event{
		Version:    "0",
		ID:         ev.ID,
		DetailType: kind,
		Source:     "aws.ssm",
		Account:    t.Account,
		Time:       time.UnixMilli(ev.Time).UTC().Format(time.RFC3339),
		Region:     t.Region,
		Resources:  []string{t.ARN(ev.Name)},
		Detail:     d,
	})
}

// Sign returns the X-Paramstore-Signature value of body (webhook.Sign).
func Sign(secret, body []byte) string { return webhook.Sign(secret, body) }

// Verify checks a signature header in constant time (webhook.Verify).
func Verify(secret, body []byte, header string) bool { return webhook.Verify(secret, body, header) }
