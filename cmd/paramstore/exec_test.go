package main

import (
	"slices"
	"testing"
)

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		name            string
		base, add, want []string
	}{
		{"adds", []string{"PATH=/bin"}, []string{"DB_URL=x"}, []string{"PATH=/bin", "DB_URL=x"}},
		{"parameters override the environment", []string{"DB_URL=old", "HOME=/h"}, []string{"DB_URL=new"}, []string{"DB_URL=new", "HOME=/h"}},
		{"later paths win", nil, []string{"A=1", "B=2", "A=3"}, []string{"A=3", "B=2"}},
		{"values keep '='", nil, []string{"Q=a=b"}, []string{"Q=a=b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeEnv(tc.base, tc.add); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
