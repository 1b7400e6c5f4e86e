// Package bytesize parses and prints sizes given on the command line, as
// "512KiB", "100MiB", "1GiB" or a number of bytes (DESIGN.md §3).
//
// Parsing is go-humanize's ParseBytes, which also takes decimal units
// ("100MB" is 100,000,000 bytes) and a space before the unit; Parse adds
// the bounds an int64 size needs. Size is a pflag.Value for flags.
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/dustin/go-humanize"
)

// Parse returns the number of bytes s names: a number of bytes ("4096"), or
// a number and a unit, binary ("512KiB", "100MiB", "1GiB") or decimal
// ("100MB"). Fractions round down to a whole byte ("1.5KiB" is 1536).
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("bytesize: empty size; want bytes or a size such as 512KiB, 100MiB, 1GiB")
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("bytesize: %q: a size cannot be negative", s)
	}
	n, err := humanize.ParseBytes(t)
	if err != nil {
		return 0, fmt.Errorf("bytesize: %q: want bytes or a size such as 512KiB, 100MiB, 1GiB", s)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("bytesize: %q: too large", s)
	}
	return int64(n), nil
}

// Format prints n in the largest binary unit that divides it ("100MiB"),
// or in bytes.
func Format(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprint(n)
}

// Size is a size flag (a pflag.Value) that sets the int64 it points to.
type Size struct{ P *int64 }

func (s Size) String() string {
	if s.P == nil {
		return "0"
	}
	return Format(*s.P)
}

// Set parses v into the size.
func (s Size) Set(v string) error {
	n, err := Parse(v)
	if err != nil {
		return err
	}
	*s.P = n
	return nil
}

// Type names the flag's value in help.
func (Size) Type() string { return "size" }
