package testproc

import (
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartMoto runs moto_server, the stand-in for AWS SSM, on a free port
// until the test ends, and returns its URL once it answers.
func StartMoto(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Fatalf("moto_server is required (pip install 'moto[server]'): %v", err)
	}
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("FreeAddr %q", addr)
	}
	cmd := exec.Command("moto_server", "-p", port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	u := fmt.Sprintf("http://127.0.0.1:%s", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(u + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
