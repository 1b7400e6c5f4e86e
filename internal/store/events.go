package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The event outbox (DESIGN.md decision 8): every committed change of a
// parameter appends its events in the same apply as the change, keyed by
// the raft index of the command and a sequence number within it, so a
// change and its events are durable together and in commit order. Each
// webhook subscription keeps the position of the last event it had
// delivered (or skipped, as not its own); events at or below every
// subscription's position are pruned, the same way on every replica. With
// no subscription, events are delivered to every subscription at once and
// nothing is kept.
//
//	outbox   be64(raft index) be32(seq) -> Event (JSON)
//	subs     name                       -> Subscription (JSON)
//
// The two buckets are created when missing (a state machine written before
// events existed has neither) and are not required by CheckFile.

var (
	bucketOutbox = []byte("outbox")
	bucketSubs   = []byte("subs")

	eventBuckets = [][]byte{bucketOutbox, bucketSubs, bucketPolicyParams}
)

// Event kinds: the detail-type of the EventBridge event.
const (
	KindChange = "Parameter Store Change"
	KindPolicy = "Parameter Store Policy Action"
)

// Event is one entry of the outbox: the facts of an EventBridge-shaped
// event (package events renders it). It never holds a parameter's value.
type Event struct {
	// Pos is the event's place in the outbox (not stored: the key).
	Pos     Pos    `json:"-"`
	ID      string `json:"id"`
	Kind    string `json:"k"`
	Tenancy string `json:"t"`
	Name    string `json:"n"`  // display name
	Time    int64  `json:"tm"` // epoch milliseconds

	// Change events.
	Operation   string `json:"op,omitempty"` // Create, Update, Delete, LabelParameterVersion
	Type        string `json:"ty,omitempty"`
	Description string `json:"d,omitempty"`
	Label       string `json:"lb,omitempty"`
	FromVersion int64  `json:"fv,omitempty"`
	ToVersion   int64  `json:"tv,omitempty"`

	// Incident events: the detail, rendered by the proposer.
	Detail json.RawMessage `json:"dt,omitempty"`

	// Policy events.
	PolicyType    string `json:"pt,omitempty"` // Expiration, ExpirationNotification, NoChangeNotification
	PolicyContent string `json:"pc,omitempty"`
	ActionStatus  string `json:"as,omitempty"` // SUCCESS, FAILURE
	ActionReason  string `json:"ar,omitempty"`
}

// Pos is a position in the outbox: the raft index of a command and the
// sequence number of an event among those it emitted.
type Pos struct {
	Index uint64 `json:"i"`
	Seq   uint32 `json:"s"`
}

// Less orders positions.
func (p Pos) Less(q Pos) bool {
	return p.Index < q.Index || (p.Index == q.Index && p.Seq < q.Seq)
}

func (p Pos) key() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 12), p.Index)
	return binary.BigEndian.AppendUint32(b, p.Seq)
}

func posOf(k []byte) Pos {
	if len(k) != 12 {
		return Pos{}
	}
	return Pos{Index: binary.BigEndian.Uint64(k), Seq: binary.BigEndian.Uint32(k[8:])}
}

// String formats a position as index.seq.
func (p Pos) String() string {
	return strconv.FormatUint(p.Index, 10) + "." + strconv.FormatUint(uint64(p.Seq), 10)
}

// Subscription is a webhook: where events of one tenancy go, which ones,
// and how far delivery has come.
type Subscription struct {
	Name       string `json:"n"`
	Tenancy    string `json:"t"`
	URL        string `json:"u"`
	Path       string `json:"p,omitempty"`  // only parameters at or under this path
	DetailType string `json:"dt,omitempty"` // only this detail-type
	// Secret is the HMAC key, wrapped by the master key (crypto.Keyring
	// Wrap with purpose "webhook secret" and the subscription's name).
	Secret []byte `json:"sec,omitempty"`
	// CA is an optional PEM bundle trusted for an https URL, besides the
	// system roots.
	CA      []byte `json:"ca,omitempty"`
	Created int64  `json:"c"`

	// Pos is the position up to which every event was delivered, skipped
	// (not matching) or dead-lettered.
	Pos       Pos    `json:"pos"`
	Delivered uint64 `json:"dl,omitempty"`
	Failed    uint64 `json:"f,omitempty"` // failed attempts
	Dead      uint64 `json:"dd,omitempty"`
	// DeadIDs are the IDs of the most recent dead-lettered events.
	DeadIDs   []string `json:"di,omitempty"`
	LastError string   `json:"le,omitempty"`
	// LastDelivered is the time of the last delivery (epoch ms).
	LastDelivered int64 `json:"ld,omitempty"`
}

// Matches reports whether ev is for the subscription. An incident is the
// cluster's, not a region's: it goes to the subscriptions of its account
// in every region that select no path (a path selects parameters).
func (s *Subscription) Matches(ev *Event) bool {
	if ev.Kind == KindIncident {
		account, _, _ := strings.Cut(ev.Tenancy, ":")
		subAccount, _, _ := strings.Cut(s.Tenancy, ":")
		return account == subAccount && (s.DetailType == "" || s.DetailType == KindIncident) && (s.Path == "" || s.Path == "/")
	}
	if ev.Tenancy != s.Tenancy {
		return false
	}
	if s.DetailType != "" && s.DetailType != ev.Kind {
		return false
	}
	if s.Path != "" && s.Path != "/" {
		p := strings.TrimSuffix(s.Path, "/")
		n := ev.Name
		if !strings.HasPrefix(n, "/") {
			n = "/" + n
		}
		if n != p && !strings.HasPrefix(n, p+"/") {
			return false
		}
	}
	return true
}

// maxDeadIDs bounds Subscription.DeadIDs.
const maxDeadIDs = 20

// Notify commands.
const (
	OpNotifyPut    Op = "notifyPut"    // create or replace a subscription (Sub)
	OpNotifyDelete Op = "notifyDelete" // delete a subscription (Name)
	OpNotifyAck    Op = "notifyAck"    // record delivery progress (Ack)
)

// Ack is delivery progress of one subscription, proposed by the leader's
// delivery loop.
type Ack struct {
	Name string `json:"n"`
	// Created identifies the subscription (a replaced one is another).
	Created int64 `json:"c"`
	// Pos is the new position (never moves back).
	Pos       Pos      `json:"pos"`
	Delivered uint64   `json:"dl,omitempty"`
	Failed    uint64   `json:"f,omitempty"`
	DeadIDs   []string `json:"di,omitempty"`
	LastError string   `json:"le,omitempty"`
	// ClearError clears LastError (a delivery succeeded).
	ClearError    bool  `json:"ce,omitempty"`
	LastDelivered int64 `json:"ld,omitempty"`
}

// eventID derives an event's ID from the command and the position, so
// every replica stores the same one.
func eventID(c *Command, pos Pos) string {
	h := sha256.New()
	h.Write([]byte(c.ID))
	h.Write(pos.key())
	h.Write([]byte(c.Tenancy))
	h.Write([]byte(c.Name))
	s := hex.EncodeToString(h.Sum(nil)[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// emitter appends the events of one command.
type emitter struct {
	tx    *bolt.Tx
	index uint64
	cmd   *Command
	seq   uint32
}

func newEmitter(tx *bolt.Tx, index uint64, c *Command) *emitter {
	return &emitter{tx: tx, index: index, cmd: c}
}

// emit appends ev to the outbox unless no subscription exists.
func (e *emitter) emit(ev Event) error {
	subs := e.tx.Bucket(bucketSubs)
	if subs == nil {
		return nil
	}
	if k, _ := subs.Cursor().First(); k == nil {
		return nil
	}
	pos := Pos{Index: e.index, Seq: e.seq}
	e.seq++
	ev.ID = eventID(e.cmd, pos)
	if ev.Tenancy == "" {
		ev.Tenancy = e.cmd.Tenancy
	}
	if ev.Time == 0 {
		ev.Time = e.cmd.Time
	}
	return putJSON(e.tx.Bucket(bucketOutbox), pos.key(), &ev)
}

// labelEvents emits LabelParameterVersion for each label attached to a
// version (new, or moved from another version).
func (e *emitter) labelEvents(p *Parameter, old map[string]int64) error {
	byVersion := map[int64][]string{}
	from := map[int64]int64{}
	for l, v := range p.Labels {
		if ov, ok := old[l]; ok && ov == v {
			continue
		}
		byVersion[v] = append(byVersion[v], l)
		if ov, ok := old[l]; ok {
			from[v] = ov
		}
	}
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		labels := byVersion[v]
		slices.Sort(labels)
		typ, desc := p.Latest.Type, p.Latest.Description
		err := e.emit(Event{Kind: KindChange, Operation: "LabelParameterVersion", Name: p.Name, Type: typ,
			Description: desc, Label: strings.Join(labels, ","), FromVersion: from[v], ToVersion: v})
		if err != nil {
			return err
		}
	}
	return nil
}

func applyNotifyPut(tx *bolt.Tx, index uint64, c *Command) error {
	if c.Sub == nil || c.Sub.Name == "" {
		return errors.New("store: notifyPut without subscription")
	}
	s := *c.Sub
	// A new subscription sees the events of commands after this one.
	s.Pos = Pos{Index: index, Seq: ^uint32(0)}
	s.Delivered, s.Failed, s.Dead, s.DeadIDs, s.LastError, s.LastDelivered = 0, 0, 0, nil, "", 0
	b := tx.Bucket(bucketSubs)
	if c.Create && b.Get([]byte(s.Name)) != nil {
		return ErrExists
	}
	if err := putJSON(b, []byte(s.Name), &s); err != nil {
		return err
	}
	return pruneOutbox(tx)
}

func applyNotifyDelete(tx *bolt.Tx, c *Command) error {
	b := tx.Bucket(bucketSubs)
	if b.Get([]byte(c.Name)) == nil {
		return ErrNotFound
	}
	if err := b.Delete([]byte(c.Name)); err != nil {
		return err
	}
	return pruneOutbox(tx)
}

func applyNotifyAck(tx *bolt.Tx, c *Command) error {
	a := c.Ack
	if a == nil {
		return errors.New("store: notifyAck without ack")
	}
	b := tx.Bucket(bucketSubs)
	var s Subscription
	ok, err := getJSON(b, []byte(a.Name), &s)
	if err != nil {
		return err
	}
	if !ok || s.Created != a.Created {
		return ErrNotFound
	}
	if s.Pos.Less(a.Pos) {
		s.Pos = a.Pos
	}
	s.Delivered += a.Delivered
	s.Failed += a.Failed
	s.Dead += uint64(len(a.DeadIDs))
	s.DeadIDs = append(s.DeadIDs, a.DeadIDs...)
	if n := len(s.DeadIDs); n > maxDeadIDs {
		s.DeadIDs = s.DeadIDs[n-maxDeadIDs:]
	}
	if a.LastError != "" {
		s.LastError = a.LastError
	} else if a.ClearError {
		s.LastError = ""
	}
	if a.LastDelivered != 0 {
		s.LastDelivered = a.LastDelivered
	}
	if err := putJSON(b, []byte(a.Name), &s); err != nil {
		return err
	}
	return pruneOutbox(tx)
}

// pruneOutbox deletes the events at or below every subscription's
// position (all of them when there is no subscription).
func pruneOutbox(tx *bolt.Tx) error {
	var floor *Pos
	err := tx.Bucket(bucketSubs).ForEach(func(_, v []byte) error {
		var s Subscription
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if floor == nil || s.Pos.Less(*floor) {
			p := s.Pos
			floor = &p
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := tx.Bucket(bucketOutbox)
	c := out.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		if floor != nil && floor.Less(posOf(k)) {
			break
		}
		if err := out.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Subscriptions returns every subscription, by name.
func (r *Reader) Subscriptions() ([]Subscription, error) {
	var out []Subscription
	b := r.bucket(bucketSubs)
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var s Subscription
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("store: decode subscription %q: %w", k, err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// Subscription returns one subscription, nil when there is none.
func (r *Reader) Subscription(name string) (*Subscription, error) {
	b := r.bucket(bucketSubs)
	if b == nil {
		return nil, nil
	}
	var s Subscription
	ok, err := getJSON(b, []byte(name), &s)
	if err != nil || !ok {
		return nil, err
	}
	return &s, nil
}

// Events calls fn for the outbox events after pos, in order; fn returns
// false to stop.
func (r *Reader) Events(after Pos, fn func(ev *Event) (bool, error)) error {
	b := r.bucket(bucketOutbox)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, v := c.Seek(after.key())
	if k != nil && bytes.Equal(k, after.key()) {
		k, v = c.Next()
	}
	for ; k != nil; k, v = c.Next() {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("store: decode event %x: %w", k, err)
		}
		ev.Pos = posOf(k)
		more, err := fn(&ev)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// OutboxLen is the number of events held in the outbox.
func (r *Reader) OutboxLen() int {
	b := r.bucket(bucketOutbox)
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}
