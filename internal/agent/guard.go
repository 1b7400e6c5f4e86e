package agent

import (
	"crypto/subtle"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/paramstore/paramstore/internal/ssm"
)

// HeaderSecurityToken is the header in which SDKs send AWS_SESSION_TOKEN;
// the SSM proxy takes the agent's token there.
const HeaderSecurityToken = "X-Amz-Security-Token"

// Error texts of the local API's guards.
const (
	msgBadToken    = "The security token included in the request is invalid."
	msgHostRefused = "The Host header names neither a loopback name nor the agent's listen address."
	msgNoWrites    = "The paramstore agent does not forward write operations; start it with --allow-writes to allow them."
)

// codeUnrecognizedClient is AWS's code for a missing or wrong session
// token (spec §4.4, row 4).
const codeUnrecognizedClient = "UnrecognizedClientException"

// readOperations are the Parameter Store operations that change nothing:
// the proxy forwards them always (when it does not answer them itself).
var readOperations = map[string]bool{
	"GetParameter": true, "GetParameters": true, "GetParametersByPath": true,
	"GetParameterHistory": true, "DescribeParameters": true,
	"ListTagsForResource": true, "GetServiceSetting": true,
}

// writeOperations are the Parameter Store operations that change state:
// forwarded only with Config.AllowWrites.
var writeOperations = map[string]bool{
	"PutParameter": true, "DeleteParameter": true, "DeleteParameters": true,
	"LabelParameterVersion": true, "UnlabelParameterVersion": true,
	"AddTagsToResource": true, "RemoveTagsFromResource": true,
	"UpdateServiceSetting": true, "ResetServiceSetting": true,
}

// opLabel bounds the operation label of metrics to the known operations.
func opLabel(op string) string {
	if readOperations[op] || writeOperations[op] {
		return op
	}
	return "unknown"
}

// hostAllowed reports whether the Host header of a request names this
// agent: a loopback name or address, or one of the configured hosts. A
// name that resolves elsewhere is refused, which is what defeats DNS
// rebinding (a browser sends the attacker's name as Host). When the agent
// listens on every interface, any IP literal is accepted too: rebinding
// needs a name.
func (h *Handler) hostAllowed(r *http.Request) bool {
	host := r.Host
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || h.anyIP {
			return true
		}
	}
	return host == h.listenHost
}

// listenHost returns the host part of a listen address, lower-cased, and
// whether it is unspecified (every interface).
func listenHost(addr string) (string, bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" {
		return "", true
	}
	ip := net.ParseIP(host)
	return host, ip != nil && ip.IsUnspecified()
}

// guard refuses requests whose Host is not the agent's before any handler
// runs.
func (h *Handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.hostAllowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		h.metrics.refused.WithLabelValues("host").Inc()
		if r.Method == http.MethodPost && r.URL.Path == "/" {
			h.writeError(w, "unknown", &ssm.Error{Code: ssm.CodeAccessDenied, Message: msgHostRefused, Status: http.StatusForbidden})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, msgHostRefused+"\n")
	})
}

// tokenMatches compares a presented token with the configured one in
// constant time. With no token configured, any non-empty value passes (see
// the package doc).
func (h *Handler) tokenMatches(got string) bool {
	if got == "" {
		return false
	}
	if h.cfg.Token == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.cfg.Token)) == 1
}
