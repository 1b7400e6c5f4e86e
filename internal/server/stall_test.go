package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStallGuard: a snapshot download whose client stops reading is cut
// off once a write makes no progress for the idle timeout (the handler's
// write fails and it returns), so a stalled client holds neither a
// goroutine nor a spooled copy for long.
func TestStallGuard(t *testing.T) {
	ended := make(chan error, 1)
	endless := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
	})
	srv := httptest.NewServer(stallGuard(endless, 200*time.Millisecond))
	defer srv.Close()

	resp, err := http.Get(srv.URL + snapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	// The client stops reading.
	select {
	case err := <-ended:
		t.Logf("the stalled download was cut off: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the handler is still writing to a client that stopped reading")
	}
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Fatal("the cut-off download read as complete")
	}
}
