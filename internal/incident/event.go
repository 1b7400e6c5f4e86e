package incident

import (
	"encoding/json"
	"fmt"
	"time"
)

// DetailType is the detail-type of the EventBridge-shaped event an
// incident sends when it opens and when it closes (docs/events.md).
const DetailType = "Paramstore Incident"

// States of an incident in its events.
const (
	StateOpen   = "open"
	StateClosed = "closed"
)

// DetailTimeline is how many of the last timeline entries an event
// carries.
const DetailTimeline = 5

// Detail is the detail of a "Paramstore Incident" event. It names every
// member it carries (default-deny): counts, times, the kind and the
// timeline's words, which hold names and error classes, never a value.
type Detail struct {
	ID      string       `json:"id"`
	Kind    string       `json:"kind"`
	State   string       `json:"state"`
	Source  string       `json:"source"`
	Node    string       `json:"node,omitempty"`
	Started time.Time    `json:"started"`
	Ended   *time.Time   `json:"ended"`
	Summary string       `json:"summary"`
	Impact  DetailImpact `json:"impact"`
	// Timeline holds the last DetailTimeline entries (as of the state).
	Timeline []Event `json:"timeline"`
}

// DetailImpact is the impact in numbers, without names.
type DetailImpact struct {
	Requests            int64   `json:"requests"`
	Failed              int64   `json:"failed"`
	Throttled           int64   `json:"throttled"`
	ServedStale         int64   `json:"served_stale"`
	MaxStalenessSeconds float64 `json:"max_staleness_seconds"`
}

// NewDetail describes inc in state (StateOpen or StateClosed). The open
// event of an incident that has ended already (one that opened and closed
// while a cluster could not write) describes it as it was before it
// ended: no end, and no closing entry.
func NewDetail(inc Incident, state string) Detail {
	tl := inc.Timeline
	var ended *time.Time
	if state == StateClosed && inc.Ended != nil {
		e := inc.Ended.UTC()
		ended = &e
	}
	if state == StateOpen && inc.Ended != nil && len(tl) > 1 {
		tl = tl[:len(tl)-1]
	}
	var first, last string
	if len(tl) > 0 {
		first, last = tl[0].Event, tl[len(tl)-1].Event
	}
	summary := fmt.Sprintf("%s incident opened: %s", inc.Kind, first)
	if ended != nil {
		summary = fmt.Sprintf("%s incident closed after %s: %s", inc.Kind, ended.Sub(inc.Started).Round(time.Millisecond), last)
	}
	if len(tl) > DetailTimeline {
		tl = tl[len(tl)-DetailTimeline:]
	}
	out := make([]Event, len(tl))
	for i, e := range tl {
		out[i] = Event{Time: e.Time.UTC(), Event: e.Event}
	}
	im := inc.Impact
	return Detail{ID: inc.ID, Kind: inc.Kind, State: state, Source: inc.Source, Node: inc.Node,
		Started: inc.Started.UTC(), Ended: ended, Summary: summary, Timeline: out,
		Impact: DetailImpact{Requests: im.Requests, Failed: im.Failed, Throttled: im.Throttled,
			ServedStale: im.ServedStale, MaxStalenessSeconds: im.MaxStalenessSeconds}}
}

// MarshalDetail is the JSON of NewDetail(inc, state).
func MarshalDetail(inc Incident, state string) (json.RawMessage, error) {
	return json.Marshal(NewDetail(inc, state))
}
