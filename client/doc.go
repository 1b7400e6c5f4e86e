// Package client is a resilient Go client for the SSM Parameter Store API,
// for applications that read their configuration from Paramstore or from
// AWS Systems Manager Parameter Store.
//
// It wraps aws-sdk-go-v2's SSM client (one per endpoint, with the SDK's own
// retries turned off) and adds, in process, what keeps an application
// running through an outage of the store:
//
//   - A cache with a TTL per path prefix (longest prefix wins), refreshed in
//     the background ahead of expiry so that callers rarely wait, bounded in
//     size with LRU eviction. ParameterNotFound is cached for a short time.
//   - Stale-if-error: when every upstream fails (timeouts, network errors,
//     5xx, throttling), the last good value is served, marked Result.Stale,
//     up to Config.MaxStale past its expiry (unlimited by default). API
//     errors such as AccessDeniedException or ValidationException are
//     returned as they are and never hidden behind a stale value.
//   - A persistent cache: one file, cache.bin, in Config.CacheDir, encrypted
//     with AES-256-GCM under Config.CacheKey, written atomically (temporary
//     file, fsync, rename) periodically and on Close, and loaded by New, so
//     that a process restarting in the middle of an outage serves at once.
//     A corrupt or unreadable cache file is logged and ignored.
//   - Per attempt timeouts, bounded retries with exponential backoff and
//     full jitter (longer after ThrottlingException), a circuit breaker per
//     upstream (closed, open, half-open with a single probe), and failover
//     to the next endpoint in Config.Endpoints.
//   - Request coalescing: concurrent misses on one cache key make a single
//     upstream call.
//   - Change propagation: Watch follows a Paramstore server's change stream
//     (GET /_paramstore/changes) and refreshes changed cached parameters at
//     once; against AWS, which has no stream, it polls at the path's TTL.
//
// Errors keep the SDK's types: a missing parameter is a
// *types.ParameterNotFound from
// github.com/aws/aws-sdk-go-v2/service/ssm/types, so errors.As works, and
// a failure of every upstream with nothing cached wraps ErrUnavailable as
// well as the last upstream error.
//
// A Client is safe for concurrent use. Close stops its background
// goroutines and flushes the persistent cache.
package client
