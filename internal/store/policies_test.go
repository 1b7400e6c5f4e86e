package store

import (
	"context"
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
