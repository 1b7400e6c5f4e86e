package zeropad

import (
	"fmt"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		v, n int
		want string
	}{
		{0, 1, "0"},
		{7, 3, "007"},
		{59, 2, "59"},
		{2026, 4, "2026"},
		{2026, 2, "26"}, // the low digits only
		{999, 3, "999"},
		{5, 0, ""},
	} {
		if got := string(Append([]byte("x"), tc.v, tc.n)); got != "x"+tc.want {
			t.Errorf("Append(x, %d, %d) = %q, want %q", tc.v, tc.n, got, "x"+tc.want)
		}
	}
	// Every value of every width the time formats use, against fmt.
	for n := 1; n <= 4; n++ {
		limit := 1
		for range n {
			limit *= 10
		}
		for v := range limit {
			if got, want := string(Append(nil, v, n)), fmt.Sprintf("%0*d", n, v); got != want {
				t.Fatalf("Append(nil, %d, %d) = %q, want %q", v, n, got, want)
			}
		}
	}
}
