package events

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/store"
)

// Policy is one parsed parameter policy.
type Policy struct {
	Type string
	Text string
	// Expiration: when; notifications: the offset (before the expiry, or
	// after the last change).
	At     time.Time
	Offset time.Duration
}

// ParsePolicies parses the normalized policies text stored with a version
// (already validated by the service); policies it cannot read are left
// out.
func ParsePolicies(text string) []Policy {
	var raws []json.RawMessage
	if text == "" || json.Unmarshal([]byte(text), &raws) != nil {
		return nil
	}
	var out []Policy
	for _, raw := range raws {
		var doc struct {
			Type       string                     `json:"Type"`
			Attributes map[string]json.RawMessage `json:"Attributes"`
		}
		if json.Unmarshal(raw, &doc) != nil {
			continue
		}
		p := Policy{Type: doc.Type, Text: string(raw)}
		switch doc.Type {
		case "Expiration":
			var s string
			if json.Unmarshal(doc.Attributes["Timestamp"], &s) != nil {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				continue
			}
			p.At = t
		case "ExpirationNotification", "NoChangeNotification":
			key := "Before"
			if doc.Type == "NoChangeNotification" {
				key = "After"
			}
			d, ok := countUnit(doc.Attributes[key], doc.Attributes["Unit"])
			if !ok {
				continue
			}
			p.Offset = d
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}

func countUnit(count, unit json.RawMessage) (time.Duration, bool) {
	var text string
	if json.Unmarshal(count, &text) != nil {
		text = string(count)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n <= 0 || n > 100000 {
		return 0, false
	}
	var u string
	if json.Unmarshal(unit, &u) != nil {
		return 0, false
	}
	switch strings.ToLower(u) {
	case "days":
		return time.Duration(n) * 24 * time.Hour, true
	case "hours":
		return time.Duration(n) * time.Hour, true
	}
	return 0, false
}

// ScannerConfig configures a Scanner.
type ScannerConfig struct {
	// Store reads the local state and proposes.
	Store interface {
		View(ctx context.Context, fn func(r *store.Reader) error) error
		Apply(ctx context.Context, cmd *store.Command) error
	}
	Leader   func() bool
	Now      func() time.Time
	Interval time.Duration
	Logger   *slog.Logger
}

// Scanner is the leader's timer of parameter policies: every Interval it
// reads the parameters that have policies and proposes what is due. It
// keeps no state of its own, so a new leader (or a restarted node) carries
// on from the replicated state.
type Scanner struct {
	cfg    ScannerConfig
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewScanner builds a scanner; Start runs it.
func NewScanner(cfg ScannerConfig) (*Scanner, error) {
	if cfg.Store == nil || cfg.Leader == nil {
		return nil, errors.New("events: ScannerConfig.Store and Leader are required")
	}
	if cfg.Interval <= 0 {
		return nil, errors.New("events: --policy-scan-interval must be positive")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scanner{cfg: cfg}, nil
}

// Start runs the scan until Close.
func (s *Scanner) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if s.cfg.Leader() {
				if err := s.Scan(ctx); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Warn("policy scan", "err", err)
				}
			}
		}
	}()
}

// Close stops the scan and waits for it.
func (s *Scanner) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

// Scan proposes the policies due now: one pass.
func (s *Scanner) Scan(ctx context.Context) error {
	now := s.cfg.Now()
	var cmds []*store.Command
	// A point read: the scan needs no commit of the applied state unless
	// a write changed which parameters have policies since the last one.
	err := s.cfg.Store.View(store.WithPointReads(ctx), func(r *store.Reader) error {
		cmds = cmds[:0] // a point read may run twice
		return r.PolicyParams(func(tenancy, key string, p *store.Parameter) error {
			cmds = append(cmds, due(tenancy, key, p, now)...)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		c.Time = now.UnixMilli()
		err := s.cfg.Store.Apply(ctx, c)
		// Another write (or leader) got there first: the next scan sees it.
		if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && c.Op == store.OpDelete {
			s.cfg.Logger.Info("parameter expired", "name", c.Name)
		}
	}
	return nil
}

// due returns the commands of p's policies that are due at now.
func due(tenancy, key string, p *store.Parameter, now time.Time) []*store.Command {
	pols := ParsePolicies(p.Latest.Policies)
	var expiry *Policy
	for i := range pols {
		if pols[i].Type == "Expiration" {
			expiry = &pols[i]
		}
	}
	fired := func(t string) bool {
		for _, f := range p.Fired {
			if f == t {
				return true
			}
		}
		return false
	}
	event := func(pol *Policy, reason string) *store.Event {
		return &store.Event{Kind: store.KindPolicy, Name: p.Name, Type: p.Latest.Type, PolicyType: pol.Type,
			PolicyContent: pol.Text, ActionStatus: "SUCCESS", ActionReason: reason}
	}
	if expiry != nil && !now.Before(expiry.At) {
		ev := event(expiry, "Parameter "+p.Name+" has been deleted by the Expiration policy at "+expiry.At.UTC().Format(time.RFC3339)+".")
		return []*store.Command{{Op: store.OpDelete, Tenancy: tenancy, Name: key, Expect: p.ModIndex, Policy: ev}}
	}
	var out []*store.Command
	for i := range pols {
		pol := &pols[i]
		if fired(pol.Type) {
			continue
		}
		var reason string
		switch pol.Type {
		case "ExpirationNotification":
			if expiry == nil || now.Before(expiry.At.Add(-pol.Offset)) {
				continue
			}
			reason = "Parameter " + p.Name + " will expire at " + expiry.At.UTC().Format(time.RFC3339) + "."
		case "NoChangeNotification":
			if now.Before(time.UnixMilli(p.Latest.Modified).Add(pol.Offset)) {
				continue
			}
			reason = "Parameter " + p.Name + " has not been changed for " + pol.Offset.String() + "."
		default:
			continue
		}
		out = append(out, &store.Command{Op: store.OpPolicyFire, Tenancy: tenancy, Name: key, Expect: p.ModIndex,
			Policy: event(pol, reason)})
	}
	return out
}
