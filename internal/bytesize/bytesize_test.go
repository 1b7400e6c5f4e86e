package bytesize

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "4096", want: 4096},
		{in: "512KiB", want: 512 << 10},
		{in: "100MiB", want: 100 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "1 GiB", want: 1 << 30},
		{in: "1.5KiB", want: 1536},
		{in: "100MB", want: 100_000_000},
		{in: " 2KiB ", want: 2048},
		{in: "", wantErr: "empty size"},
		{in: "-1", wantErr: "cannot be negative"},
		{in: "-1MiB", wantErr: "cannot be negative"},
		{in: "ten", wantErr: "want bytes or a size"},
		{in: "10XB", wantErr: "want bytes or a size"},
		{in: "99999999999EiB", wantErr: "want bytes or a size"},
		{in: "9EiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 1023, 1024, 512 << 10, 100 << 20, 1 << 30, 3 << 40, 1<<20 + 1} {
		s := Format(n)
		got, err := Parse(s)
		if err != nil || got != n {
			t.Errorf("Parse(Format(%d) = %q) = %d, %v", n, s, got, err)
		}
	}
	if got := Format(100 << 20); got != "100MiB" {
		t.Errorf("Format(100MiB) = %q", got)
	}
}

func TestSizeFlag(t *testing.T) {
	var n int64 = 100 << 20
	f := Size{&n}
	if f.String() != "100MiB" {
		t.Errorf("String() = %q, want 100MiB", f.String())
	}
	if err := f.Set("512KiB"); err != nil || n != 512<<10 {
		t.Errorf("Set(512KiB): n = %d, err %v", n, err)
	}
	if err := f.Set("lots"); err == nil || n != 512<<10 {
		t.Errorf("Set(lots): err %v, n = %d; want an error and n unchanged", err, n)
	}
}

// FuzzParse: any input gives a size that is not negative, or an error;
// never a panic; and a size prints back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "512KiB", "100MiB", "1GiB", "1.5 KiB", "100MB", "-1", "9EiB", "1e3", "NaN", "Inf KiB", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d, negative", s, n)
		}
		if back, err := Parse(Format(n)); err != nil || back != n {
			t.Fatalf("Parse(Format(%d)) = %d, %v", n, back, err)
		}
	})
}
