package api

import (
	"maps"
	"slices"
	"testing"

	"github.com/paramstore/paramstore/internal/throttle"
)

// tableOf returns the operations of a handler with a cluster, by name.
func tableOf(t *testing.T) map[string]*operation {
	t.Helper()
	h := &Handler{cfg: Config{Cluster: struct{ Cluster }{}}}
	ops := h.operations()
	byName := map[string]*operation{}
	targets := map[string]bool{}
	for i := range ops {
		o := &ops[i]
		if byName[o.name] != nil || targets[o.target()] {
			t.Errorf("operation %s (%s) is in the table twice", o.name, o.target())
		}
		byName[o.name], targets[o.target()] = o, true
	}
	return byName
}

// TestOperationClass: each operation takes a token from the bucket of its
// kind (formerly throttle.ClassOf).
func TestOperationClass(t *testing.T) {
	ops := tableOf(t)
	for name, want := range map[string]throttle.Class{
		"GetParameter": throttle.Reads, "GetParametersByPath": throttle.Reads, "PutParameter": throttle.Writes,
		"DeleteParameters": throttle.Writes, "DescribeParameters": throttle.Describes, "LabelParameterVersion": throttle.Writes,
		// Listings of the admin API are describes, not writes.
		"ListKeys": throttle.Describes, "ListUsers": throttle.Describes, "ListAccessKeys": throttle.Describes,
		"ListNodes": throttle.Describes,
	} {
		o := ops[name]
		if o == nil {
			t.Errorf("%s is not in the table", name)
			continue
		}
		if o.class != want {
			t.Errorf("class of %s: got %v, want %v", name, o.class, want)
		}
	}
}

// TestOperationFactsAgree: the read-only operations (audited without an
// intent record, reading at the default consistency) are exactly those
// throttled as reads or describes, and each family has its audit shape.
func TestOperationFactsAgree(t *testing.T) {
	ops := tableOf(t)
	var readOnly []string
	for name, o := range ops {
		if o.readOnly() {
			readOnly = append(readOnly, name)
		}
		if o.readOnly() != (o.class != throttle.Writes) {
			t.Errorf("%s: read-only %v, throttled as %v", name, o.readOnly(), o.class)
		}
		switch o.family.prefix {
		case "AmazonSSM.":
			if o.family.keep != nil {
				t.Errorf("%s: SSM operation recorded default deny", name)
			}
		case "Paramstore.":
			if o.family.keep != adminAuditKeep {
				t.Errorf("%s: admin operation not recorded default deny with adminAuditKeep", name)
			}
		default:
			t.Errorf("%s: unknown prefix %q", name, o.family.prefix)
		}
	}
	want := []string{
		"DescribeParameters", "GetParameter", "GetParameterHistory", "GetParameters", "GetParametersByPath",
		"GetServiceSetting", "ListAccessKeys", "ListKeys", "ListNodes", "ListTagsForResource", "ListUsers",
	}
	if slices.Sort(readOnly); !slices.Equal(readOnly, want) {
		t.Errorf("read-only operations: got %v, want %v", readOnly, want)
	}
	if len(ops) != 32 {
		t.Errorf("got %d operations, want 32: %v", len(ops), slices.Sorted(maps.Keys(ops)))
	}
}

// TestClusterOperationsNeedACluster: without a cluster, the membership
// operations are unknown targets.
func TestClusterOperationsNeedACluster(t *testing.T) {
	h := &Handler{}
	for _, o := range h.operations() {
		switch o.name {
		case "ListNodes", "RemoveNode", "TransferLeadership":
			t.Errorf("%s is routed without a cluster", o.name)
		}
	}
}
