package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// The IAM actions of the notify admin operations.
const (
	ActionPut    = "paramstore:PutNotification"
	ActionList   = "paramstore:ListNotifications"
	ActionDelete = "paramstore:DeleteNotification"
	ActionTest   = "paramstore:TestNotification"
)

// Manager implements the admin operations behind `paramstore notify`.
type Manager struct {
	st  service.Store
	kr  *crypto.Keyring
	now func() time.Time
	// timeout bounds a test delivery.
	timeout time.Duration
}

// NewManager builds a Manager; now nil means time.Now.
func NewManager(st service.Store, kr *crypto.Keyring, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{st: st, kr: kr, now: now, timeout: 10 * time.Second}
}

// PutInput is the request of PutNotification. Secret is never recorded:
// the audit trail keeps only the members it names (api.adminAuditKeep).
type PutInput struct {
	Name       string `json:"Name"`
	URL        string `json:"Url"`
	Secret     string `json:"Secret"`
	Path       string `json:"Path"`
	DetailType string `json:"DetailType"`
	CA         string `json:"CaBundle"`
}

// PutOutput answers PutNotification. GeneratedSecret is set only when the
// request carried no secret: it is shown this once.
type PutOutput struct {
	Subscription    Info   `json:"Subscription"`
	GeneratedSecret string `json:"GeneratedSecret,omitempty"`
}

// Info describes a subscription, never its secret.
type Info struct {
	Name          string   `json:"Name"`
	URL           string   `json:"Url"`
	Path          string   `json:"Path,omitempty"`
	DetailType    string   `json:"DetailType,omitempty"`
	Created       int64    `json:"CreationDate"`
	Delivered     uint64   `json:"Delivered"`
	Failed        uint64   `json:"FailedAttempts"`
	DeadLettered  uint64   `json:"DeadLettered"`
	DeadLetterIDs []string `json:"DeadLetterIds,omitempty"`
	LastError     string   `json:"LastError,omitempty"`
	Pending       int      `json:"Pending"`
	LagSeconds    float64  `json:"LagSeconds"`
	Position      string   `json:"Position"`
	State         string   `json:"State"` // ok, failing, dead-letter
}

// NameInput names a subscription.
type NameInput struct {
	Name string `json:"Name"`
}

// ListOutput answers ListNotifications.
type ListOutput struct {
	Subscriptions []Info `json:"Subscriptions"`
}

// TestOutput answers TestNotification.
type TestOutput struct {
	EventID string `json:"EventId"`
	Status  string `json:"Status"` // delivered, or the error
}

func arn(t ssm.Tenancy, name string) string {
	return "arn:" + t.Partition() + ":ssm:" + t.Region + ":" + t.Account + ":notification/" + name
}

func authorize(c service.Caller, action, name string) error {
	if c.Authz == nil {
		return nil
	}
	return c.Authz.Authorize(action, arn(c.Tenancy, name), nil)
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	return strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

// CheckURL validates a receiver URL: http or https, a host, no
// credentials, no fragment. It returns what is wrong, "" when nothing is.
func CheckURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "Url is required"
	case err != nil:
		return fmt.Sprintf("Url %q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("Url %q: the scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("Url %q has no host", raw)
	case u.User != nil:
		return "Url must not carry credentials; sign with the secret instead"
	case u.Fragment != "":
		return fmt.Sprintf("Url %q must not have a fragment", raw)
	case len(raw) > 2048:
		return "Url is longer than 2048 characters"
	}
	return ""
}

// Put creates a subscription.
func (m *Manager) Put(ctx context.Context, c service.Caller, in *PutInput) (*PutOutput, error) {
	if !validName(in.Name) {
		return nil, ssm.ErrValidation("Name must be 1 to 64 letters, digits, '.', '_' or '-'.")
	}
	if err := authorize(c, ActionPut, in.Name); err != nil {
		return nil, err
	}
	if problem := CheckURL(in.URL); problem != "" {
		return nil, ssm.ErrValidation(problem + ".")
	}
	if in.Path != "" && (!strings.HasPrefix(in.Path, "/") || len(in.Path) > 2048) {
		return nil, ssm.ErrValidation("Path must start with '/'.")
	}
	if in.DetailType != "" && in.DetailType != store.KindChange && in.DetailType != store.KindPolicy && in.DetailType != store.KindIncident {
		return nil, ssm.ErrValidation(fmt.Sprintf("DetailType must be %q, %q or %q.", store.KindChange, store.KindPolicy, store.KindIncident))
	}
	if in.CA != "" {
		if _, err := NewHTTPClient([]byte(in.CA), time.Second); err != nil {
			return nil, ssm.ErrValidation("CaBundle holds no PEM certificate.")
		}
	}
	var out PutOutput
	secret := []byte(in.Secret)
	if len(secret) == 0 {
		b := make([]byte, 32)
		rand.Read(b)
		out.GeneratedSecret = hex.EncodeToString(b)
		secret = []byte(out.GeneratedSecret)
	}
	if len(secret) > 4096 {
		return nil, ssm.ErrValidation("Secret is longer than 4096 bytes.")
	}
	wrapped, err := m.kr.Wrap(SecretPurpose, in.Name, secret)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	now := m.now()
	sub := &store.Subscription{Name: in.Name, Tenancy: c.Tenancy.Key(), URL: in.URL, Path: in.Path,
		DetailType: in.DetailType, Secret: wrapped, CA: []byte(in.CA), Created: now.UnixNano()}
	err = m.st.Apply(ctx, &store.Command{Op: store.OpNotifyPut, Create: true, Sub: sub, Time: now.UnixMilli()})
	if errors.Is(err, store.ErrExists) {
		return nil, ssm.NewError("AlreadyExistsException", "A subscription named "+in.Name+" already exists.")
	}
	if err != nil {
		return nil, ssm.Wrap(fmt.Errorf("events: put subscription %q: %w", in.Name, err))
	}
	out.Subscription = m.info(nil, sub)
	return &out, nil
}

func (m *Manager) info(r *store.Reader, s *store.Subscription) Info {
	in := Info{Name: s.Name, URL: s.URL, Path: s.Path, DetailType: s.DetailType, Created: s.Created / 1e6,
		Delivered: s.Delivered, Failed: s.Failed, DeadLettered: s.Dead, DeadLetterIDs: s.DeadIDs,
		LastError: s.LastError, Position: s.Pos.String(), State: "ok"}
	if r != nil {
		var oldest int64
		r.Events(s.Pos, func(ev *store.Event) (bool, error) {
			if s.Matches(ev) {
				if in.Pending == 0 {
					oldest = ev.Time
				}
				in.Pending++
			}
			return in.Pending < 100000, nil
		})
		if in.Pending > 0 {
			in.LagSeconds = max(0, m.now().Sub(time.UnixMilli(oldest)).Seconds())
		}
	}
	switch {
	case s.Dead > 0:
		in.State = "dead-letter"
	case s.LastError != "":
		in.State = "failing"
	}
	return in
}

// List lists the subscriptions of the caller's tenancy.
func (m *Manager) List(ctx context.Context, c service.Caller) (*ListOutput, error) {
	if err := authorize(c, ActionList, "*"); err != nil {
		return nil, err
	}
	out := ListOutput{Subscriptions: []Info{}}
	err := m.st.View(ctx, func(r *store.Reader) error {
		subs, err := r.Subscriptions()
		if err != nil {
			return err
		}
		for i := range subs {
			if subs[i].Tenancy == c.Tenancy.Key() {
				out.Subscriptions = append(out.Subscriptions, m.info(r, &subs[i]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	return &out, nil
}

func (m *Manager) get(ctx context.Context, c service.Caller, name string) (*store.Subscription, error) {
	var s *store.Subscription
	err := m.st.View(ctx, func(r *store.Reader) error {
		var err error
		s, err = r.Subscription(name)
		return err
	})
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	if s == nil || s.Tenancy != c.Tenancy.Key() {
		return nil, ssm.NewError("ResourceNotFoundException", "No subscription named "+name+".")
	}
	return s, nil
}

// Delete removes a subscription; its undelivered events are dropped.
func (m *Manager) Delete(ctx context.Context, c service.Caller, in *NameInput) (*struct{}, error) {
	if err := authorize(c, ActionDelete, in.Name); err != nil {
		return nil, err
	}
	if _, err := m.get(ctx, c, in.Name); err != nil {
		return nil, err
	}
	err := m.st.Apply(ctx, &store.Command{Op: store.OpNotifyDelete, Name: in.Name, Time: m.now().UnixMilli()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ssm.NewError("ResourceNotFoundException", "No subscription named "+in.Name+".")
	}
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	return &struct{}{}, nil
}

// Test POSTs a signed test event to a subscription's receiver from the
// node that serves the call, outside the outbox, and reports the answer.
func (m *Manager) Test(ctx context.Context, c service.Caller, in *NameInput) (*TestOutput, error) {
	if err := authorize(c, ActionTest, in.Name); err != nil {
		return nil, err
	}
	s, err := m.get(ctx, c, in.Name)
	if err != nil {
		return nil, err
	}
	secret, err := m.kr.Unwrap(SecretPurpose, s.Name, s.Secret)
	if err != nil {
		return nil, ssm.Wrap(fmt.Errorf("events: unwrap secret of %q: %w", s.Name, err))
	}
	client, err := NewHTTPClient(s.CA, m.timeout)
	if err != nil {
		return nil, ssm.ErrValidation(err.Error())
	}
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	ev := &store.Event{ID: id, Kind: store.KindChange, Operation: "Test", Tenancy: s.Tenancy,
		Name: "/paramstore/notify-test", Type: "String", Description: "test event of paramstore notify test",
		Time: m.now().UnixMilli()}
	body, err := Render(ev)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	out := TestOutput{EventID: id, Status: "delivered"}
	if err := Post(ctx, client, s.URL, secret, id, body, 4096); err != nil {
		out.Status = err.Error()
	}
	return &out, nil
}
