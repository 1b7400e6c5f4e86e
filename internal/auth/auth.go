// Package auth authenticates API requests (SigV4, package sigv4) against the
// identities kept in the store, and authorizes them with IAM-style policies
// (package policy). Secrets of access keys are stored wrapped by the master
// key; this package unwraps them into an in-memory cache that is dropped
// whenever any identity changes (the store's IAM version).
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/sigv4"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// Purposes of wrapped secrets.
const (
	purposeSecret = "access-key-secret"
	purposeToken  = "session-token"
)

// RootName is the principal name of the root identity.
const RootName = "root"

// Store is what auth needs from storage.
type Store interface {
	View(ctx context.Context, fn func(r *store.Reader) error) error
	Apply(ctx context.Context, cmd *store.Command) error
}

// Identity is an authenticated caller.
type Identity struct {
	Kind        string // store.KindRoot, KindUser or KindRole
	Name        string // principal name
	ARN         string
	AccessKeyID string
	Account     string
	policies    []compiledPolicy
	// context says whether a policy reads the condition keys
	// (policy.Policy.UsesContext): if none does, Authorize builds no
	// context. Set with policies, once per cached identity.
	context bool
}

// Root reports whether the identity is the account root, which every
// policy check allows.
func (id *Identity) Root() bool { return id.Kind == store.KindRoot }

// Config configures an Authenticator.
type Config struct {
	Store   Store
	Keyring *crypto.Keyring
	Account string
	// RegionAllow names regions accepted in credential scopes besides the
	// AWS regions (ssm.Regions); any other region is refused as AWS
	// refuses it (InvalidSignatureException).
	RegionAllow []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator verifies request signatures and resolves identities.
type Authenticator struct {
	st       Store
	kr       *crypto.Keyring
	account  string
	now      func() time.Time
	verifier *sigv4.Verifier

	// cache holds the entries read at one IAM version; every request
	// reads it without a lock (two global mutexes per request parked
	// goroutines under load). mu serializes its replacement and the
	// insertion of entries.
	cache atomic.Pointer[keyCache]
	mu    sync.Mutex
}

// keyCache is the cache of one IAM version.
type keyCache struct {
	version uint64
	entries sync.Map // access key ID -> *entry
	n       int      // entries stored (under Authenticator.mu)
}

type entry struct {
	creds   sigv4.Credentials
	id      *Identity
	err     error  // a cached miss
	version uint64 // the IAM version it was read at
}

// New builds an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Store == nil || cfg.Keyring == nil || cfg.Account == "" {
		return nil, errors.New("auth: Config.Store, Config.Keyring and Config.Account are required")
	}
	a := &Authenticator{st: cfg.Store, kr: cfg.Keyring, account: cfg.Account, now: cfg.Now}
	a.cache.Store(&keyCache{})
	if a.now == nil {
		a.now = time.Now
	}
	vc := sigv4.Default()
	vc.Now = a.now
	vc.Lookup = a.lookupCreds
	vc.Regions = append(ssm.Regions(), cfg.RegionAllow...)
	v, err := sigv4.New(vc)
	if err != nil {
		return nil, err
	}
	a.verifier = v
	return a, nil
}

// AcceptsRegion reports whether requests may be scoped to region: an AWS
// region or one of Config.RegionAllow.
func (a *Authenticator) AcceptsRegion(region string) bool { return a.verifier.ValidRegion(region) }

// Authenticate verifies the signature of r (whose body was read into body)
// and returns the caller and the region of its credential scope. Failures
// are *sigv4.Error values carrying the AWS code and message.
func (a *Authenticator) Authenticate(r *http.Request, body []byte) (*Identity, string, error) {
	if err := a.refresh(r.Context()); err != nil {
		return nil, "", err
	}
	res, err := a.verifier.Verify(r, body)
	if err != nil {
		return nil, "", err
	}
	e, err := a.entry(res.AccessKeyID)
	if err != nil {
		return nil, "", err
	}
	if e.err != nil {
		return nil, "", e.err
	}
	return e.id, res.Region, nil
}

// IAMVersioner is an optional fast path of Store: the committed identity
// version without a read transaction.
type IAMVersioner interface {
	IAMVersion() uint64
}

// refresh drops the cache when identities changed since it was filled.
func (a *Authenticator) refresh(ctx context.Context) error {
	var v uint64
	if fast, ok := a.st.(IAMVersioner); ok {
		v = fast.IAMVersion()
	} else {
		err := a.st.View(ctx, func(r *store.Reader) error {
			v = r.IAMVersion()
			return nil
		})
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if a.cache.Load().version != v {
		a.mu.Lock()
		if a.cache.Load().version != v {
			a.cache.Store(&keyCache{version: v})
		}
		a.mu.Unlock()
	}
	return nil
}

func (a *Authenticator) lookupCreds(accessKeyID string) (sigv4.Credentials, error) {
	e, err := a.entry(accessKeyID)
	if err != nil {
		return sigv4.Credentials{}, err
	}
	if e.err != nil {
		return sigv4.Credentials{}, e.err
	}
	return e.creds, nil
}

const maxCacheEntries = 100000

func (a *Authenticator) entry(accessKeyID string) (*entry, error) {
	if e, ok := a.cache.Load().entries.Load(accessKeyID); ok {
		return e.(*entry), nil
	}
	e, err := a.load(accessKeyID)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	// Cache only what was read at the version the cache holds: an entry
	// read before a change that a concurrent refresh has already seen
	// would otherwise outlive the change.
	if c := a.cache.Load(); e.version == c.version {
		if c.n >= maxCacheEntries {
			c = &keyCache{version: c.version}
			a.cache.Store(c)
		}
		if _, loaded := c.entries.LoadOrStore(accessKeyID, e); !loaded {
			c.n++
		}
	}
	a.mu.Unlock()
	return e, nil
}

// load reads an access key and its principal from the store.
func (a *Authenticator) load(accessKeyID string) (*entry, error) {
	var ak *store.AccessKey
	var p *store.Principal
	var version uint64
	err := a.st.View(context.Background(), func(r *store.Reader) error {
		version = r.IAMVersion()
		var err error
		if ak, err = r.AccessKey(accessKeyID); err != nil || ak == nil {
			return err
		}
		p, err = r.Principal(ak.Principal)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if ak == nil || p == nil || ak.Disabled {
		// Unknown and disabled keys look the same to the caller, as on AWS.
		return &entry{err: fmt.Errorf("auth: access key %s: %w", accessKeyID, sigv4.ErrUnknownAccessKey), version: version}, nil
	}
	secret, err := a.kr.Unwrap(purposeSecret, ak.ID, ak.SecretWrapped)
	if err != nil {
		return nil, err
	}
	e := &entry{creds: sigv4.Credentials{SecretAccessKey: string(secret)}, version: version}
	if ak.TokenWrapped != nil {
		tok, err := a.kr.Unwrap(purposeToken, ak.ID, ak.TokenWrapped)
		if err != nil {
			return nil, err
		}
		e.creds.SessionToken = string(tok)
	}
	if ak.Expires != 0 {
		e.creds.Expires = time.UnixMilli(ak.Expires)
	}
	pols, err := compilePolicies(p.Policies)
	if err != nil {
		return nil, fmt.Errorf("auth: policies of %s: %w", p.Name, err)
	}
	e.id = &Identity{Kind: p.Kind, Name: p.Name, AccessKeyID: ak.ID, Account: a.account, policies: pols,
		context: usesContext(pols), ARN: principalARN(a.account, p, ak)}
	return e, nil
}

func principalARN(account string, p *store.Principal, ak *store.AccessKey) string {
	switch p.Kind {
	case store.KindRoot:
		return "arn:aws:iam::" + account + ":root"
	case store.KindRole:
		return "arn:aws:sts::" + account + ":assumed-role/" + p.Name + "/" + ak.ID
	}
	return "arn:aws:iam::" + account + ":user/" + p.Name
}

// NewAccessKeyID returns a random key ID with AWS's shape: AKIA (long-term)
// or ASIA (temporary) and 16 base32 characters.
func NewAccessKeyID(temporary bool) string {
	b := make([]byte, 10)
	rand.Read(b)
	prefix := "AKIA"
	if temporary {
		prefix = "ASIA"
	}
	return prefix + base32.StdEncoding.EncodeToString(b)
}

// NewSecret returns a random 40-character secret access key.
func NewSecret() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
