package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramstore/paramstore/internal/audit"
)

// writeAuditTrail writes n records to a new trail and returns its path and
// last hash.
func writeAuditTrail(t *testing.T, n int) (string, string) {
	t.Helper()
	cfg := audit.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := audit.Open(cfg, audit.Options{HMACKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		rec := audit.Record{EventName: "GetParameter", RequestID: fmt.Sprint("req-", i)}
		if err := s.Log(context.Background(), rec, audit.Durable); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Path, rep.LastHash
}

func TestAuditVerifyCmd(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(t *testing.T, path string) // nil: leave intact
		extraArgs  []string
		wantOut    string // substring of stdout
		wantErr    string // substring of the error; empty for success
		wantChainE bool   // the error is an *audit.ChainError
	}{
		{name: "intact", wantOut: "ok: 3 records, chain intact, last hash "},
		{
			name: "edited",
			tamper: func(t *testing.T, path string) {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				b = bytes.Replace(b, []byte(`"requestID":"req-1"`), []byte(`"requestID":"req-X"`), 1)
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantOut:    "FAILED: 1 records intact",
			wantErr:    "line 2: hash mismatch",
			wantChainE: true,
		},
		{
			name:    "missing file",
			tamper:  func(t *testing.T, path string) { os.Remove(path) },
			wantErr: "no such file",
		},
		{name: "too many arguments", extraArgs: []string{"other"}, wantErr: "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, lastHash := writeAuditTrail(t, 3)
			if tt.tamper != nil {
				tt.tamper(t, path)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"audit", "verify", path}, tt.extraArgs...)
			err := run(context.Background(), args, &stdout, &stderr)
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantOut)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if !strings.Contains(stdout.String(), lastHash) {
					t.Errorf("stdout = %q, want the last hash %s", stdout.String(), lastHash)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run error = %v, want one containing %q", err, tt.wantErr)
			}
			var ce *audit.ChainError
			if got := errors.As(err, &ce); got != tt.wantChainE {
				t.Errorf("error is *audit.ChainError = %v, want %v", got, tt.wantChainE)
			}
		})
	}
}
