package throttle

import (
	"errors"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    Limit
		wantErr bool
	}{
		{"", Limit{}, false},
		{"0", Limit{}, false},
		{"40", Limit{Rate: 40, Burst: 40}, false},
		{"0.5", Limit{Rate: 0.5, Burst: 1}, false},
		{"100:250", Limit{Rate: 100, Burst: 250}, false},
		{"x", Limit{}, true},
		{"-1", Limit{}, true},
		{"10:0", Limit{}, true},
		{"10:y", Limit{}, true},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestBucketPerKeyAndClass(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var cfg Config
	cfg.Limits[Reads] = Limit{Rate: 10, Burst: 3}
	cfg.Now = c.now
	l := New(cfg)
	for i := 0; i < 3; i++ {
		if err := l.Allow("A", Reads); err != nil {
			t.Fatalf("request %d of the burst: got %v, want allowed", i+1, err)
		}
	}
	if err := l.Allow("A", Reads); !errors.Is(err, ErrRateExceeded) {
		t.Fatalf("4th read in the same instant: got %v, want ErrRateExceeded", err)
	}
	// Another key is not starved by A.
	if err := l.Allow("B", Reads); err != nil {
		t.Fatalf("key B: got %v, want allowed", err)
	}
	// Writes are unlimited here.
	for i := 0; i < 100; i++ {
		if err := l.Allow("A", Writes); err != nil {
			t.Fatalf("write %d: got %v, want allowed", i, err)
		}
	}
	// 100 ms later at 10/s one token is back.
	c.t = c.t.Add(100 * time.Millisecond)
	if err := l.Allow("A", Reads); err != nil {
		t.Fatalf("after refill: got %v, want allowed", err)
	}
	if err := l.Allow("A", Reads); !errors.Is(err, ErrRateExceeded) {
		t.Fatalf("second after refill: got %v, want ErrRateExceeded", err)
	}
}

func TestClassString(t *testing.T) {
	for c, want := range map[Class]string{Reads: "reads", Writes: "writes", Describes: "describes"} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}

func TestEviction(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var cfg Config
	cfg.Limits[Writes] = Limit{Rate: 1, Burst: 1}
	cfg.MaxKeys = 4
	cfg.Now = c.now
	l := New(cfg)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := l.Allow(k, Writes); err != nil {
			t.Fatalf("key %s: %v", k, err)
		}
	}
	if n := len(l.keys); n > 4 {
		t.Fatalf("tracked keys: got %d, want <= 4", n)
	}
}
