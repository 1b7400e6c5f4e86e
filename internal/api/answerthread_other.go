//go:build !linux

package api

// yieldingThread is a no-op where the scheduler takes no slice hint.
func yieldingThread() {}
