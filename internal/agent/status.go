package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/client"
)

// failure is how the agent answers a Source error, on the Lambda path and
// on the SSM proxy alike: 4xx only for the caller's own errors (the
// upstream answered them: validation, not found, access denied, bad key),
// 429 when the upstream throttles the agent, 502 when it failed (5xx),
// and 503 when none could be reached; the last two with Retry-After.
type failure struct {
	status     int
	code, msg  string
	noMessage  bool
	retryAfter time.Duration // 0: no Retry-After
}

// Codes the agent answers with when the upstream is at fault.
const (
	codeServiceUnavailable = "ServiceUnavailable"
	codeThrottling         = "ThrottlingException"
	codeInternal           = "InternalServerError"
)

func (h *Handler) failureOf(err error) failure {
	var api smithy.APIError
	isAPI := errors.As(err, &api)
	if !unavailable(err) {
		switch {
		case isAPI:
			return failure{status: http.StatusBadRequest, code: api.ErrorCode(), msg: api.ErrorMessage(), noMessage: api.ErrorMessage() == ""}
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return failure{status: http.StatusServiceUnavailable, code: codeServiceUnavailable,
				msg: "The request ended before an upstream answered.", retryAfter: time.Second}
		}
		return failure{status: http.StatusBadGateway, code: codeInternal, msg: "The agent could not read the value."}
	}
	retry := h.retryAfter()
	var status interface{ HTTPStatusCode() int }
	code := 0
	if errors.As(err, &status) {
		code = status.HTTPStatusCode()
	}
	switch {
	case client.IsThrottling(err):
		return failure{status: http.StatusTooManyRequests, code: codeThrottling,
			msg: "The upstream is throttling the agent and the value is not cached; retry later.", retryAfter: retry}
	case code >= 500 && code != http.StatusServiceUnavailable:
		upstream := "HTTP " + strconv.Itoa(code)
		if isAPI {
			upstream = api.ErrorCode() + " (" + upstream + ")"
		}
		return failure{status: http.StatusBadGateway, code: codeInternal,
			msg: fmt.Sprintf("The upstream failed (%s) and the value is not cached.", upstream), retryAfter: retry}
	}
	return failure{status: http.StatusServiceUnavailable, code: codeServiceUnavailable,
		msg: "No upstream could be reached and the value is not cached.", retryAfter: retry}
}

// retryAfter is when an upstream may answer again: the soonest probe of an
// open breaker, at least a second.
func (h *Handler) retryAfter() time.Duration {
	best := time.Duration(-1)
	for _, u := range h.cfg.Source.Health() {
		if u.Breaker != "open" {
			return time.Second
		}
		if best < 0 || u.RetryIn < best {
			best = u.RetryIn
		}
	}
	return max(best, time.Second)
}

// setRetryAfter writes the Retry-After header of f, in whole seconds
// rounded up.
func setRetryAfter(w http.ResponseWriter, f failure) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
	}
}

// logFailure logs a read the agent could not serve: at warning level at
// most once a second (an outage fails every read; the metrics count
// them), at debug level otherwise.
func (h *Handler) logFailure(msg, op string, f failure, err error) {
	level := slog.LevelDebug
	now := time.Now().UnixNano()
	if last := h.lastWarn.Load(); now-last >= int64(time.Second) && h.lastWarn.CompareAndSwap(last, now) {
		level = slog.LevelWarn
	}
	h.log.Log(context.Background(), level, msg, logKeyOperation, op, logKeyStatus, f.status, logKeyError, err)
}
