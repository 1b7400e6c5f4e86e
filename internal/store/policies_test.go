package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// TestPolicyIndexFollowsHead: the policy index lists exactly the
// parameters whose latest version has policies, through puts that add,
// keep, drop and never have them, and a delete.
func TestPolicyIndexFollowsHead(t *testing.T) {
	db := openTestDB(t)
	indexed := func() []string {
		t.Helper()
		var keys []string
		err := db.d.View(context.Background(), func(r *Reader) error {
			keys = nil
			return r.PolicyParams(func(_, key string, _ *Parameter) error {
				keys = append(keys, key)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	withPolicies := func(c *Command) *Command {
		c.Param.Latest.Policies = `[{"Type":"Expiration"}]`
		return c
	}
	mod := map[string]uint64{}
	put := func(name string, v int64, c *Command) {
		t.Helper()
		db.mustApply(c)
		mod[name] = db.index
	}
	put("/p", 1, withPolicies(putCmd("/p", 1, "Advanced", 0)))
	put("/q", 1, putCmd("/q", 1, "Standard", 0))
	if got := indexed(); !slices.Equal(got, []string{"/p"}) {
		t.Fatalf("after the creates: %v, want [/p]", got)
	}
	put("/p", 2, withPolicies(putCmd("/p", 2, "Advanced", mod["/p"])))
	put("/q", 2, putCmd("/q", 2, "Standard", mod["/q"]))
	if got := indexed(); !slices.Equal(got, []string{"/p"}) {
		t.Fatalf("after overwrites: %v, want [/p]", got)
	}
	put("/p", 3, putCmd("/p", 3, "Advanced", mod["/p"]))
	put("/q", 3, withPolicies(putCmd("/q", 3, "Advanced", mod["/q"])))
	if got := indexed(); !slices.Equal(got, []string{"/q"}) {
		t.Fatalf("after /p dropped its policies and /q took some: %v, want [/q]", got)
	}
	db.mustApply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/q"})
	if got := indexed(); len(got) != 0 {
		t.Fatalf("after deleting /q: %v, want none", got)
	}
}

// policyView lists the parameters with policies and their head records'
// versions and modification indexes, as the policy scan reads them: by a
// point read (through the read buffer) or from the committed state.
func policyView(t *testing.T, d *DB, point bool) (view []string, runs int) {
	t.Helper()
	ctx := context.Background()
	if point {
		ctx = WithPointReads(ctx)
	}
	err := d.View(ctx, func(r *Reader) error {
		runs++
		view = nil
		return r.PolicyParams(func(_, key string, p *Parameter) error {
			view = append(view, fmt.Sprintf("%s v%d mod %d policies %q", key, p.Latest.Version, p.ModIndex, p.Latest.Policies))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return view, runs
}

// TestPolicyParamsBuffered: the policy scan's point read needs no commit
// while the deferred writes left the policy index as it was (overwrites
// and creates without policies, overwrites of a parameter that keeps its
// policies read through the buffer), and commits first once one changed
// it; either way it sees what the committed state holds after a commit.
func TestPolicyParamsBuffered(t *testing.T) {
	db := openTestDB(t)
	mod := map[string]uint64{}
	version := map[string]int64{}
	put := func(name, policies string) {
		t.Helper()
		version[name]++
		tier := "Standard"
		if policies != "" {
			tier = "Advanced"
		}
		c := putCmd(name, version[name], tier, mod[name])
		c.Param.Latest.Policies = policies
		db.mustApply(c)
		mod[name] = db.index
	}
	const pol = `[{"Type":"Expiration"}]`
	steps := []struct {
		name   string
		writes func()
		flush  bool // the point read must commit first
	}{
		{"creates with and without policies", func() { put("/p", pol); put("/q", "") }, true},
		{"overwrites without policies and a create", func() { put("/q", ""); put("/r", "") }, false},
		{"an overwrite keeping its policies", func() { put("/p", pol) }, true},
		{"policies added", func() { put("/q", pol) }, true},
		{"policies dropped", func() { put("/p", "") }, true},
		{"plain overwrites after a commit", func() { put("/p", ""); put("/r", "") }, false},
		{"a delete", func() {
			db.mustApply(&Command{Op: OpDelete, Tenancy: testTenancy, Name: "/q"})
			version["/q"], mod["/q"] = 0, 0
		}, true},
	}
	for _, s := range steps {
		db.d.Commit()
		s.writes()
		commits := db.d.Commits()
		buffered, runs := policyView(t, db.d, true)
		if flushed := db.d.Commits() != commits; flushed != s.flush || (runs == 2) != s.flush {
			t.Fatalf("%s: point read committed %v in %d runs, want %v", s.name, flushed, runs, s.flush)
		}
		committed, _ := policyView(t, db.d, false)
		if !slices.Equal(buffered, committed) {
			t.Fatalf("%s: buffered %q, committed %q", s.name, buffered, committed)
		}
	}
}
