package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Op names a command.
type Op string

// The commands. Every field a command needs is carried in it: the store never
// reads a clock, generates an ID or encrypts.
const (
	OpPut        Op = "put"        // create or overwrite a parameter version
	OpDelete     Op = "delete"     // delete a parameter with all its versions
	OpMeta       Op = "meta"       // replace labels and tags of a parameter
	OpSetting    Op = "setting"    // customize (or reset, with Setting nil) a service setting
	OpCreateKey  Op = "createKey"  // add a keyring key
	OpResetAll   Op = "resetAll"   // dev mode: empty every tenancy
	OpNoop       Op = "noop"       // barrier
	OpDisableKey Op = "disableKey" // disable or enable a keyring key
)

// Command is a deterministic change to the state machine.
type Command struct {
	Op Op `json:"op"`
	// ID identifies the proposal: a command re-proposed after a failure
	// whose outcome was unknown (a leader change during forwarding) is
	// applied at most once; the copy returns the first one's result.
	// NewCommandID makes one.
	ID      string `json:"id,omitempty"`
	Tenancy string `json:"t,omitempty"`
	Name    string `json:"n,omitempty"` // canonical parameter name

	// Create is true when the put must create the parameter; otherwise Expect
	// is the ModIndex the parameter must still have.
	Create bool   `json:"c,omitempty"`
	Expect uint64 `json:"e,omitempty"`

	// Put: the new head (Latest is the new version), versions to prune, and
	// the count quota of the new tier (0 = unlimited).
	Param *Parameter `json:"p,omitempty"`
	Prune []int64    `json:"pr,omitempty"`
	Quota int64      `json:"q,omitempty"`

	// Meta: the complete new label and tag sets.
	Labels map[string]int64  `json:"lb,omitempty"`
	Tags   map[string]string `json:"tg,omitempty"`

	// Setting.
	SettingID string   `json:"sid,omitempty"`
	Setting   *Setting `json:"set,omitempty"`

	// Keys.
	Key *Key `json:"key,omitempty"`

	// Identities (Name carries the principal or access key to delete).
	Principal *Principal `json:"pr2,omitempty"`
	AccessKey *AccessKey `json:"ak,omitempty"`

	// Cluster members.
	Node *NodeInfo `json:"node,omitempty"`

	// KeyCheck is the master key's check value (OpKeyCheck).
	KeyCheck []byte `json:"kc,omitempty"`

	// Incident is the JSON of a server incident (OpIncident).
	Incident json.RawMessage `json:"inc,omitempty"`
	// IncidentOpened and IncidentClosed are the details of the incident's
	// events (OpIncident): applied only on the transition they describe.
	IncidentOpened json.RawMessage `json:"inco,omitempty"`
	IncidentClosed json.RawMessage `json:"incc,omitempty"`
	// Time is when the command was proposed (epoch milliseconds): the
	// time of the events it emits.
	Time int64 `json:"tm,omitempty"`
	// Notify: a subscription to create or replace, delivery progress.
	Sub *Subscription `json:"sub,omitempty"`
	Ack *Ack          `json:"ack,omitempty"`
	// Policy is the policy action event a command emits before its change
	// event (the delete proposed by an Expiration policy).
	Policy *Event `json:"pol,omitempty"`

	// Intent is the audit intent record of the API call that proposed the
	// command (the trail's canonical, redacted encoding, without the
	// chain members), and Origin the ID of the node whose trail it
	// belongs to: raft's log makes it durable with the change, and that
	// node appends it to its trail when it applies the command (see
	// intent.go). Empty for the commands of calls whose intent is written
	// to the trail before they run.
	Intent []byte `json:"in,omitempty"`
	Origin string `json:"or,omitempty"`
}

// NewCommandID returns a unique, time-ordered command ID.
func NewCommandID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// Marshal encodes a command for the raft log.
func (c *Command) Marshal() ([]byte, error) { return json.Marshal(c) }

// UnmarshalCommand decodes a command from the raft log: JSON (Marshal) or
// the compact form of a put (MarshalCompact, codec.go).
func UnmarshalCommand(b []byte) (*Command, error) {
	if len(b) > 0 && b[0] == compactMagic {
		return unmarshalCompact(b)
	}
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("store: decode command: %w", err)
	}
	return &c, nil
}

// commandOp returns the Op of an encoded command without decoding it (both
// encodings start with it, see Marshal and MarshalCompact), or "" when b
// does not start so.
func commandOp(b []byte) Op {
	if len(b) > 0 && b[0] == compactMagic {
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || n > uint64(len(b)-1-k) {
			return ""
		}
		return Op(b[1+k : 1+k+int(n)])
	}
	const prefix = `{"op":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return ""
	}
	rest := b[len(prefix):]
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return ""
	}
	return Op(rest[:i])
}
