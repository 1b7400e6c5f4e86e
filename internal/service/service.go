// Package service implements the Parameter Store operations: validate,
// read a snapshot, decide, encrypt, and propose a compare-and-set command to
// the store. Errors leave this package as *ssm.Error.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// Store is what the service needs from storage. View runs fn against a
// consistent snapshot; Apply returns once the command is durable, with the
// state machine's result (nil or a store sentinel error).
type Store interface {
	View(ctx context.Context, fn func(r *store.Reader) error) error
	Apply(ctx context.Context, cmd *store.Command) error
}

// Limits are the quotas of spec §10.2, configurable.
type Limits struct {
	StandardParameters int64
	AdvancedParameters int64
	StandardValueChars int
	AdvancedValueChars int
	MaxVersions        int
	MaxLabelsPerVer    int
	MaxTags            int
	// WriteRetry bounds how long a write retries on concurrent updates to the
	// same parameter before answering TooManyUpdates.
	WriteRetry time.Duration
}

// DefaultLimits are AWS's values.
func DefaultLimits() Limits {
	return Limits{
		StandardParameters: 10000,
		AdvancedParameters: 100000,
		StandardValueChars: 4096,
		AdvancedValueChars: 8192,
		MaxVersions:        100,
		MaxLabelsPerVer:    10,
		MaxTags:            50,
		WriteRetry:         5 * time.Second,
	}
}

// Validate checks the limits, naming the failing field.
func (l Limits) Validate() error {
	switch {
	case l.StandardParameters <= 0:
		return errors.New("service: Limits.StandardParameters must be positive")
	case l.AdvancedParameters <= 0:
		return errors.New("service: Limits.AdvancedParameters must be positive")
	case l.StandardValueChars <= 0 || l.AdvancedValueChars < l.StandardValueChars:
		return errors.New("service: Limits.AdvancedValueChars must be >= StandardValueChars > 0")
	case l.MaxVersions < 1:
		return errors.New("service: Limits.MaxVersions must be positive")
	case l.MaxLabelsPerVer < 1 || l.MaxTags < 1:
		return errors.New("service: Limits.MaxLabelsPerVer and MaxTags must be positive")
	case l.WriteRetry <= 0:
		return errors.New("service: Limits.WriteRetry must be positive")
	}
	return nil
}

// Config configures the service.
type Config struct {
	Store   Store
	Keyring *crypto.Keyring
	Limits  Limits
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Notifier wakes change-stream long polls; nil makes them return at
	// once.
	Notifier ChangeNotifier
}

// Service runs the operations.
type Service struct {
	st     Store
	kr     *crypto.Keyring
	limits Limits
	now    func() time.Time
	log    *slog.Logger

	notifier ChangeNotifier

	defaultKEKs sync.Map // tenancy key -> *crypto.KEK
	locks       writeLocks
}

// New builds a service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keyring == nil {
		return nil, errors.New("service: Config.Store and Config.Keyring are required")
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	s := &Service{st: cfg.Store, kr: cfg.Keyring, limits: cfg.Limits, now: cfg.Now, log: cfg.Logger, notifier: cfg.Notifier}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Caller is who makes a request and in which tenancy.
type Caller struct {
	Tenancy ssm.Tenancy
	// UserARN is recorded as LastModifiedUser.
	UserARN string
	// Authz decides what the caller may do; nil allows everything (dev
	// mode).
	Authz Authorizer
}

// Authorizer decides whether the caller may perform an IAM action on a
// resource (an ARN) whose tags are given (nil when it has none or does not
// exist). A refusal is an *ssm.Error (AccessDeniedException).
type Authorizer interface {
	Authorize(action, resource string, tags map[string]string) error
}

func (c Caller) authorize(action, resource string, tags map[string]string) error {
	if c.Authz == nil {
		return nil
	}
	return c.Authz.Authorize(action, resource, tags)
}

// KeyARN is the ARN of a keyring key, the resource of kms:* actions.
func KeyARN(t ssm.Tenancy, id string) string {
	return "arn:" + t.Partition() + ":kms:" + t.Region + ":" + t.Account + ":key/" + id
}

func tagsOf(p *store.Parameter) map[string]string {
	if p == nil {
		return nil
	}
	return p.Tags
}

// view runs a read and translates its failure (AWSError).
func (s *Service) view(ctx context.Context, fn func(r *store.Reader) error) error {
	err := s.st.View(ctx, fn)
	if err == nil {
		return nil
	}
	return AWSError(fmt.Errorf("service: read: %w", err))
}

// planSyncer is a Store that brings its state up to date for a write's
// plan (store.WithWritePlan) before the plan's first read: a cluster
// follower (raftstore.Node.SyncPlan).
type planSyncer interface {
	SyncPlan(ctx context.Context) error
}

// retry runs a read-decide-propose step on one parameter until it does not
// conflict. Conflicts remain possible with writers elsewhere (other nodes).
// The store syncs the plan first, outside the parameter's lock, so that
// its writers wait for the leader together rather than in turn.
func (s *Service) retry(ctx context.Context, tenancy, key string, step func() error) error {
	if ps, ok := s.st.(planSyncer); ok {
		if err := ps.SyncPlan(ctx); err != nil {
			return AWSError(fmt.Errorf("service: read: %w", err))
		}
	}
	defer s.locks.unlock(s.locks.lock(tenancy, key))
	deadline := s.now().Add(s.limits.WriteRetry)
	for {
		err := step()
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		if s.now().After(deadline) {
			return ssm.NewError(ssm.CodeTooManyUpdates, "There are concurrent updates for a resource that supports one update at a time.")
		}
		if err := ctx.Err(); err != nil {
			return AWSError(fmt.Errorf("service: retry %q: %w", key, err))
		}
	}
}

// apply proposes a command. It passes the store's results (store.IsResult)
// through for the caller to translate, and translates any other failure
// (AWSError).
func (s *Service) apply(ctx context.Context, cmd *store.Command) error {
	if cmd.Time == 0 {
		cmd.Time = s.nowMillis()
	}
	err := s.st.Apply(ctx, cmd)
	if err == nil || store.IsResult(err) {
		return err
	}
	return AWSError(fmt.Errorf("service: %s %q: %w", cmd.Op, cmd.Name, err))
}

// ResetAll empties every tenancy (dev mode).
func (s *Service) ResetAll(ctx context.Context) error {
	return s.apply(ctx, &store.Command{Op: store.OpResetAll})
}

func (s *Service) nowMillis() int64 { return s.now().UnixMilli() }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
