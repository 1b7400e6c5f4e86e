package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret file that does not exist (or is empty) fails before anything
// is sent, naming the flag and the file.
func TestNotifyAddSecretFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(dir, "missing"), "--secret-file: open " + filepath.Join(dir, "missing")},
		{empty, "is empty"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"notify", "add", "n", "--url", "http://127.0.0.1:1/", "--secret-file", tc.file,
			"--endpoint", "http://127.0.0.1:1"}, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("secret file %s: got %v, want %q", tc.file, err, tc.want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
