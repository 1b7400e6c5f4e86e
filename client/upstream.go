package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

// ErrUnavailable is wrapped by the error of a call that no upstream could
// answer (every one failed or had its breaker open) and that the cache
// could not serve.
var ErrUnavailable = errors.New("client: no upstream available")

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("client: closed")

// Upstream health states, as reported by Health.
const (
	StateHealthy  = "healthy"
	StateDegraded = "degraded"
	StateOpen     = "open"
)

// UpstreamHealth describes one endpoint.
type UpstreamHealth struct {
	URL string
	// State is "healthy" (last call answered), "degraded" (the last call
	// failed, or a half-open probe is due) or "open" (breaker open).
	State string
	// Breaker is "closed", "open" or "half-open".
	Breaker string
	// LastError is the last upstream failure, "" after a success.
	LastError string
	// ObservedAt is when the last call to this upstream ended (zero
	// before the first): State is as recent as that.
	ObservedAt time.Time
	// RetryIn is how long until an open breaker lets a probe through.
	RetryIn time.Duration
	// ServingStaleSince is when the client began serving stale values
	// because no upstream answered; zero while it is not. It is the same
	// for every endpoint.
	ServingStaleSince time.Time
}

// ssmAPI is the part of the SDK's SSM client that the client uses.
type ssmAPI interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetParameters(context.Context, *ssm.GetParametersInput, ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
	GetParametersByPath(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

// upstream is one endpoint with its SDK client and breaker.
type upstream struct {
	url     string // "" for AWS's default endpoint
	api     ssmAPI
	breaker *breaker

	mu       sync.Mutex
	lastErr  string
	observed time.Time // of the last outcome of a call
}

// observe records the outcome of a call to u at now.
func (u *upstream) observe(err error, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.observed = now
	if err == nil {
		u.lastErr = ""
	} else {
		u.lastErr = err.Error()
	}
}

func (u *upstream) observedAt() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.observed
}

func (u *upstream) health() UpstreamHealth {
	u.mu.Lock()
	last, observed := u.lastErr, u.observed
	u.mu.Unlock()
	h := UpstreamHealth{URL: u.url, Breaker: u.breaker.current(), LastError: last, ObservedAt: observed, RetryIn: u.breaker.retryIn()}
	switch {
	case h.Breaker == BreakerOpen:
		h.State = StateOpen
	case h.Breaker == BreakerHalfOpen || last != "":
		h.State = StateDegraded
	default:
		h.State = StateHealthy
	}
	return h
}

// errClass says what an attempt's error means for retries and staleness.
type errClass int

const (
	classOK       errClass = iota
	classFinal             // the upstream answered: an API error to return as is
	classRetry             // the upstream failed: timeout, network, 5xx
	classThrottle          // the upstream asked us to slow down
)

var throttleCodes = map[string]bool{
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"ThrottledException":                     true,
	"TooManyRequestsException":               true,
	"RequestLimitExceeded":                   true,
	"ProvisionedThroughputExceededException": true,
	"RequestThrottled":                       true,
	"RequestThrottledException":              true,
}

// IsThrottling reports whether err holds an upstream's answer asking the
// caller to slow down: an AWS throttling error code, or HTTP 429.
func IsThrottling(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && throttleCodes[api.ErrorCode()] {
		return true
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() == http.StatusTooManyRequests
}

func classify(err error) errClass {
	if err == nil {
		return classOK
	}
	if IsThrottling(err) {
		return classThrottle
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return classRetry
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return classFinal
	}
	return classRetry // no answer: timeout, connection, unreadable response
}

// upstreamFailure reports whether err means the upstreams failed, as
// opposed to answering with an error: only then may a stale value be
// served instead.
func upstreamFailure(err error) bool {
	return errors.Is(err, ErrUnavailable)
}

// call runs op against the upstreams in order until one answers: up to
// MaxAttempts attempts each (each bounded by Timeout), with exponential
// backoff and full jitter between them, skipping any whose breaker is open.
// When every breaker refuses and the caller is urgent (it waits with
// nothing cached), the breakers let one probe through at once, coalesced.
// An answer from one upstream makes the others' open breakers due for a
// probe. The error of an answered call is returned as is, with the name
// of the upstream that answered; when none answers the error wraps
// ErrUnavailable and the last failure.
func (c *Client) call(ctx context.Context, op string, urgent bool, fn func(ctx context.Context, api ssmAPI) error) (string, error) {
	var last error
	tried := false
	for pass := 0; pass < 2; pass++ {
		if pass == 1 && (tried || !urgent) {
			break
		}
		for _, u := range c.upstreams {
			for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
				allowed := false
				if pass == 0 {
					allowed = u.breaker.allow()
				} else {
					allowed = u.breaker.allowNow(ctx)
					if allowed {
						c.metrics.probeNow()
						c.log.Debug("every breaker open and a caller waiting: probing now", keyEndpoint, u.name())
					}
				}
				if !allowed {
					if last == nil {
						last = errors.New("circuit breaker open for " + u.name())
					}
					break
				}
				tried = true
				actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
				err := fn(actx, u.api)
				cancel()
				class := classify(err)
				if ctx.Err() != nil && class != classOK && class != classFinal {
					u.breaker.release()
					return "", ctx.Err()
				}
				c.metrics.upstreamCall(u.url, op, err)
				if class == classOK || class == classFinal {
					c.answered(u)
					return u.name(), err
				}
				c.failed(u, err)
				last = err
				c.log.Debug("upstream attempt failed", keyEndpoint, u.name(), keyOp, op, keyAttempt, attempt+1, keyError, err)
				if attempt+1 == c.cfg.MaxAttempts || u.breaker.current() == BreakerOpen || pass == 1 {
					break
				}
				if err := sleepCtx(ctx, c.backoff(attempt, class == classThrottle)); err != nil {
					return "", err
				}
			}
		}
	}
	if last == nil {
		last = errors.New("no upstream configured")
	}
	return "", errors.Join(ErrUnavailable, last)
}

// answered records that u answered: its breaker closes, and the other
// upstreams' open breakers are due for a probe.
func (c *Client) answered(u *upstream) {
	u.breaker.success()
	u.observe(nil, c.cfg.Now())
	c.markServingFresh()
	for _, o := range c.upstreams {
		if o != u && o.breaker.expedite() {
			c.kickCheck()
		}
	}
}

// kickCheck makes the background check run now.
func (c *Client) kickCheck() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// failed records a failure of u.
func (c *Client) failed(u *upstream, err error) {
	u.breaker.failure()
	u.observe(err, c.cfg.Now())
}

// healthCheckName is what the background check reads: any answer,
// ParameterNotFound or AccessDenied included, means the upstream is up.
const healthCheckName = "/paramstore/agent/health-check"

// checkLoop re-checks, every HealthCheckInterval (with ±20% jitter), the
// upstreams that no call has observed for that long, so that their
// reported state is recent: those the client does not use (the second of
// two healthy endpoints) and those whose breaker waits for a probe. When
// an upstream answers while others' breakers are open, it runs at once for
// those (their probe is due: see answered).
func (c *Client) checkLoop() {
	for {
		every := c.cfg.HealthCheckInterval
		jitter := time.Duration(rand.Int64N(int64(every)/5+1)) - every/10
		t := time.NewTimer(every + jitter)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.kick:
			t.Stop()
		}
		for _, u := range c.upstreams {
			idle := c.cfg.Now().Sub(u.observedAt()) >= every
			if (!idle && u.breaker.current() != BreakerHalfOpen) || !u.breaker.allow() {
				continue
			}
			actx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
			_, err := u.api.GetParameter(actx, &ssm.GetParameterInput{Name: aws.String(healthCheckName)})
			cancel()
			if c.ctx.Err() != nil {
				u.breaker.release()
				return
			}
			c.metrics.upstreamCall(u.url, "HealthCheck", err)
			if class := classify(err); class == classOK || class == classFinal {
				c.answered(u)
			} else {
				c.failed(u, err)
			}
		}
	}
}

// backoff returns the delay before attempt+2: a uniformly random duration
// in [0, min(MaxBackoff, BaseBackoff*2^attempt)) ("full jitter"). After
// throttling the ceiling is one doubling higher.
func (c *Client) backoff(attempt int, throttled bool) time.Duration {
	if throttled {
		attempt++
	}
	ceil := c.cfg.BaseBackoff
	for i := 0; i < attempt && ceil < c.cfg.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.cfg.MaxBackoff)
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (u *upstream) name() string {
	if u.url == "" {
		return "aws-default"
	}
	return u.url
}

// newSSM builds the SDK client of one endpoint, with the SDK's retries off.
func newSSM(cfg *Config, endpoint string, creds aws.CredentialsProvider) *ssm.Client {
	o := ssm.Options{
		Region:      cfg.Region,
		Credentials: creds,
		Retryer:     aws.NopRetryer{},
		HTTPClient:  cfg.HTTPClient,
	}
	if endpoint != "" {
		o.BaseEndpoint = aws.String(endpoint)
	}
	return ssm.New(o)
}
