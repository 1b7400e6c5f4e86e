//go:build !linux

package atomicfile

import "testing"

func readOnlyDir(t *testing.T, files map[string]string) string {
	t.Skip("skipped: read-only directories are tested on Linux")
	return ""
}

func isReadOnlyFS(error) bool { return false }

func smallDir(t *testing.T, files map[string]string) string {
	t.Skip("skipped: full file systems are tested on Linux")
	return ""
}
