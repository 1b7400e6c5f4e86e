package service

import (
	"slices"
	"testing"
)

// FuzzWatchKeys: the hub finds the waiters of a change by the keys
// watchKeysOf lists; they must be exactly the (path, recursive) pairs
// that below, the change stream's filter, accepts for the name.
func FuzzWatchKeys(f *testing.F) {
	for _, k := range []string{"/a/b/c", "/a", "root", "/a/b/", "//x", "/a//b", "a/b"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if key == "" {
			return
		}
		keys := watchKeysOf(nil, "T", key)
		// Every candidate path: "/" and every prefix of key ending before a '/'.
		paths := []string{"/"}
		for i := 1; i < len(key); i++ {
			if key[i] == '/' {
				paths = append(paths, key[:i])
			}
		}
		for _, p := range paths {
			for _, rec := range []bool{true, false} {
				want := below(p, key, rec)
				got := slices.Contains(keys, watchKey{"T", p, rec})
				if got != want {
					t.Fatalf("key %q, path %q recursive %v: indexed %v, below says %v (keys %v)", key, p, rec, got, want, keys)
				}
			}
		}
		for _, k := range keys {
			if k.tenancy != "T" || !below(k.path, key, k.recursive) {
				t.Fatalf("key %q: watch key %+v does not match it", key, k)
			}
		}
	})
}
