package events_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A subscription's secret (given or generated) appears in no audit record,
// log line or listing.
func TestNotifySecretNeverShown(t *testing.T) {
	var dataDir string
	logs := &lockedBuffer{}
	s, endpoint := servertest.Start(t, func(c *server.Config) {
		dataDir = c.DataDir
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const given = "given-secret-6f1d2c"
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "a", "Url": "http://127.0.0.1:1/", "Secret": given}, nil); err != nil {
		t.Fatal(err)
	}
	var gen events.PutOutput
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "b", "Url": "http://127.0.0.1:1/"}, &gen); err != nil {
		t.Fatal(err)
	}
	if len(gen.GeneratedSecret) != 64 {
		t.Fatalf("generated secret %q", gen.GeneratedSecret)
	}
	var list events.ListOutput
	if err := admin(t, endpoint, "ListNotifications", struct{}{}, &list); err != nil {
		t.Fatal(err)
	}
	var test events.TestOutput
	if err := admin(t, endpoint, "TestNotification", map[string]string{"Name": "a"}, &test); err != nil {
		t.Fatal(err)
	}
	if test.Status == "delivered" || !strings.Contains(test.Status, "connection refused") {
		t.Errorf("test of an unreachable receiver: %+v", test)
	}
	s.Close()
	audit, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), "PutNotification") {
		t.Fatalf("no audit record of PutNotification")
	}
	for what, text := range map[string]string{"audit trail": string(audit), "logs": logs.String(), "list": mustJSON(list)} {
		for _, secret := range []string{given, gen.GeneratedSecret} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds a secret", what)
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
