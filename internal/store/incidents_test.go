package store

import (
	"context"
	"fmt"
	"testing"
)

// TestApplyIncidentEvents: an incident's record emits its opened event
// when it is first recorded and its closed event when it first ends, once
// each however often the record is proposed again; a record first
// proposed already ended (a quorum loss replicated after the fact) emits
// both. No subscription, no event.
func TestApplyIncidentEvents(t *testing.T) {
	db := openTestDB(t)
	inc := func(id string, ended bool) *Command {
		e := "null"
		if ended {
			e = `"2030-01-01T00:00:10Z"`
		}
		return &Command{Op: OpIncident, ID: fmt.Sprintf("cmd-%s-%v-%d", id, ended, db.index), Name: id, Tenancy: "123456789012:us-east-1",
			Incident:       []byte(fmt.Sprintf(`{"id":%q,"started":"2030-01-01T00:00:00Z","ended":%s}`, id, e)),
			IncidentOpened: []byte(`{"state":"open"}`), IncidentClosed: []byte(`{"state":"closed"}`), Time: 1}
	}
	events := func() []string {
		var out []string
		err := db.d.View(context.Background(), func(r *Reader) error {
			return r.Events(Pos{}, func(ev *Event) (bool, error) {
				out = append(out, ev.Name+" "+string(ev.Detail))
				return true, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	db.mustApply(inc("before-any-subscription", false))
	if got := events(); len(got) != 0 {
		t.Fatalf("events without a subscription: %v", got)
	}
	db.mustApply(&Command{Op: OpNotifyPut, Create: true, Sub: &Subscription{Name: "ops", Tenancy: "123456789012:eu-west-1", URL: "http://x", Created: 1}})
	for _, c := range []*Command{inc("a", false), inc("a", false), inc("a", true), inc("a", true), inc("b", true)} {
		db.mustApply(c)
	}
	want := []string{`a {"state":"open"}`, `a {"state":"closed"}`, `b {"state":"open"}`, `b {"state":"closed"}`}
	if got := events(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
	var sub *Subscription
	db.d.View(context.Background(), func(r *Reader) error {
		sub, _ = r.Subscription("ops")
		return nil
	})
	if ev := (&Event{Kind: KindIncident, Tenancy: "123456789012:us-east-1"}); !sub.Matches(ev) {
		t.Error("an incident of the account does not match a subscription of another region")
	}
	for _, s := range []Subscription{{Tenancy: "999999999999:eu-west-1"}, {Tenancy: sub.Tenancy, Path: "/app"}, {Tenancy: sub.Tenancy, DetailType: KindChange}} {
		if (&s).Matches(&Event{Kind: KindIncident, Tenancy: "123456789012:us-east-1"}) {
			t.Errorf("subscription %+v matches an incident", s)
		}
	}
}
