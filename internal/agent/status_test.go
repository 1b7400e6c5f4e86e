package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/client"
)

// TestUpstreamErrorStatus (issue 21 item 3): through the real client, an
// upstream's answer reaches the application with an honest status, on the
// Lambda path and on the SSM proxy: 4xx only for the caller's own errors,
// 5xx (with Retry-After) when the upstream failed or could not be reached,
// 429 when it throttles.
func TestUpstreamErrorStatus(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	cases := []struct {
		upstreamStatus int
		upstreamCode   string // "" with status 0: no upstream listening
		wantStatus     int
		wantCode       string
		wantRetry      bool
	}{
		{400, "ParameterNotFound", 400, "ParameterNotFound", false},
		{400, "ParameterVersionNotFound", 400, "ParameterVersionNotFound", false},
		{400, "ValidationException", 400, "ValidationException", false},
		{400, "AccessDeniedException", 400, "AccessDeniedException", false},
		{400, "InvalidKeyId", 400, "InvalidKeyId", false},
		{400, "UnrecognizedClientException", 400, "UnrecognizedClientException", false},
		{400, "ThrottlingException", 429, "ThrottlingException", true},
		{429, "TooManyRequestsException", 429, "ThrottlingException", true},
		{500, "InternalServerError", 502, "InternalServerError", true},
		{502, "BadGateway", 502, "InternalServerError", true},
		{503, "ServiceUnavailable", 503, "ServiceUnavailable", true},
		{504, "GatewayTimeout", 502, "InternalServerError", true},
		{0, "", 503, "ServiceUnavailable", true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", tc.upstreamStatus, tc.upstreamCode), func(t *testing.T) {
			url := downURL
			if tc.upstreamStatus != 0 {
				up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", jsonContentType)
					w.Header().Set("X-Amzn-ErrorType", tc.upstreamCode)
					w.WriteHeader(tc.upstreamStatus)
					fmt.Fprintf(w, `{"__type":%q,"message":"upstream says %s"}`, tc.upstreamCode, tc.upstreamCode)
				}))
				defer up.Close()
				url = up.URL
			}
			c, err := client.New(t.Context(), client.Config{
				Endpoints: []string{url}, Region: "us-east-1", MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), HealthCheckInterval: -1,
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			h, err := New(Config{Source: c, Token: testToken, Region: "us-east-1", ListenAddr: "example.com:2773"})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/systemsmanager/parameters/get?name=%2Fapp%2Fv", nil)
			req.Header.Set(HeaderToken, testToken)
			lam := httptest.NewRecorder()
			h.ServeHTTP(lam, req)
			if lam.Code != tc.wantStatus || lam.Header().Get(HeaderErrorCode) != tc.wantCode || (lam.Header().Get("Retry-After") != "") != tc.wantRetry {
				t.Errorf("Lambda path: got %d %s Retry-After %q, want %d %s retry=%v", lam.Code, lam.Header().Get(HeaderErrorCode),
					lam.Header().Get("Retry-After"), tc.wantStatus, tc.wantCode, tc.wantRetry)
			}
			px := post(t, h, "GetParameter", `{"Name":"/app/v"}`)
			if px.Code != tc.wantStatus || px.Header().Get("X-Amzn-ErrorType") != tc.wantCode || (px.Header().Get("Retry-After") != "") != tc.wantRetry {
				t.Errorf("proxy: got %d %s Retry-After %q, want %d %s retry=%v", px.Code, px.Header().Get("X-Amzn-ErrorType"),
					px.Header().Get("Retry-After"), tc.wantStatus, tc.wantCode, tc.wantRetry)
			}
		})
	}
}
