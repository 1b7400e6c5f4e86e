// Package agent is the local side of Paramstore's sidecar: an http.Handler
// that serves applications from a resilient, caching Source (in production
// the public client package's *client.Client, whose types it uses), and a
// template renderer.
//
// The handler serves four things on one listener (DESIGN.md §3, default
// 127.0.0.1:2773):
//
//   - The AWS Parameters and Secrets Lambda Extension interface (spec §16.1):
//     GET /systemsmanager/parameters/get?name=N[&version=V|&label=L][&withDecryption=true].
//     Code written for the extension works unchanged.
//   - The SSM JSON 1.1 API as a caching proxy on POST /: GetParameter,
//     GetParameters and GetParametersByPath are answered from the Source;
//     every other AmazonSSM.* target is forwarded to the first healthy
//     upstream, and writes invalidate the names they touch once they succeed.
//   - GET /healthz: the state of each upstream as JSON.
//   - GET /metrics: Prometheus text format of the registry it is given.
//
// # Lambda extension choices
//
// The behaviour follows the real extension where it is known (responses
// captured from it are published with the lambda-params-secrets client, and
// its error log lines appear in public issues); where it is not, the choice
// is written here.
//
//   - Token: the header X-Aws-Parameters-Secrets-Token must equal the
//     configured token (the agent's --token, by default $AWS_SESSION_TOKEN),
//     compared in constant time. When no token is configured, any non-empty
//     value is accepted: code copied from a Lambda function keeps working on
//     a host, and the header requirement still keeps plain browser requests
//     (which cannot set custom headers) away from secrets. A missing or wrong
//     token is answered 401 with a text body.
//   - Body: the extension's JSON, which is the GetParameter output as the
//     extension serializes it: {"Parameter": {...}, "ResultMetadata": {}},
//     with LastModifiedDate as an RFC 3339 string (not the epoch-seconds
//     number of the SSM wire protocol), Selector and SourceResult null when
//     not used, and DataType, ARN, Name, Type, Value and Version.
//   - Errors: the extension answers a failed GetParameter with a text body;
//     the agent puts the AWS error code at the start of the body and in
//     the X-Paramstore-Error-Code header, and chooses the status honestly
//     (the same on the SSM proxy, with AWS-shaped bodies): 400 only for the
//     caller's own errors, which the upstream answered (ParameterNotFound,
//     ParameterVersionNotFound, ValidationException, AccessDeniedException,
//     InvalidKeyId, ...) and for a malformed query; 429
//     ThrottlingException when the upstream throttles the agent; 502
//     InternalServerError when the upstream failed (5xx); 503
//     ServiceUnavailable when none could be reached. The last three carry
//     Retry-After (the soonest breaker probe, at least 1s), and happen only
//     when nothing usable is cached. Unknown paths are 404 and the Secrets
//     Manager path /secretsmanager/get is 501: Paramstore has no Secrets
//     Manager.
//   - version and label: if both are given only the first one in the query
//     string is used, as the extension documents.
//
// # Who may call
//
// Every request must carry a Host header that names the agent: a loopback
// name or address (localhost, 127.0.0.0/8, ::1) or the host of the listen
// address (any IP literal when the agent listens on every interface).
// Anything else is refused with 403 before any work: a web page that rebinds
// its own DNS name to 127.0.0.1 sends its own name as Host.
//
// The SSM proxy requires the token too, as X-Amz-Security-Token: the header
// every SDK and the aws CLI send from AWS_SESSION_TOKEN, so an application
// is configured with AWS_SESSION_TOKEN=<token> and nothing else. A missing
// or wrong token is answered 400 UnrecognizedClientException, "The security
// token included in the request is invalid.", as AWS answers a bad session
// token. Write operations (PutParameter, DeleteParameter(s), label, tag and
// service-setting changes) are forwarded only when the agent runs with
// --allow-writes, else refused with AccessDeniedException; operations that
// are not Parameter Store's are UnknownOperationException, answered locally.
// Metric labels name only the known operations (others: "unknown").
//
// # Proxy choices
//
// The agent terminates the caller's SigV4: it checks the token but not the
// caller's signature (it is a localhost sidecar; whoever holds the token can
// read what its own credentials can read), and requests it forwards are
// signed again with the agent's own credentials and region. Responses served from the
// cache carry no signature of their own. GetParametersByPath with
// ParameterFilters is forwarded, because the cache does not evaluate
// filters; without filters it is served from the cache, paged by
// MaxResults with an agent-issued NextToken.
//
// Whenever a value is served stale (the upstream could not confirm it, or
// it was loaded from the persistent cache and no upstream has confirmed it
// since the agent started), the response carries X-Paramstore-Stale: true
// and X-Paramstore-Age, the true age of the oldest value in seconds (since
// it was fetched, across restarts).
//
// GET /healthz reports each upstream's state with the time of the
// observation it comes from (observed_at, observation_age_seconds); idle
// upstreams are re-checked in the background so that it stays recent, and
// the persistent cache's state (cache.state ok, unreadable, locked or
// failing). status is "ok" only when every upstream is healthy, nothing is
// served stale and the cache is usable.
package agent
