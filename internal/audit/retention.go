package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Retention says which rotated files of a trail are kept
// (--audit-retain): at most Files of them, none rotated longer than Age
// ago. A file goes as soon as either limit says so; a zero limit does not
// apply. Retention never removes a file --audit-on-rotate has not taken.
type Retention struct {
	// Files is how many rotated files are kept; 0: any number.
	Files int
	// Age is how long a rotated file is kept after its rotation (the time
	// in its name, that of its newest records); 0: for ever.
	Age time.Duration
}

// ParseRetention parses an --audit-retain value: a count of files ("30"),
// an age ("30d", "720h", "1w"; units y, w, d, h, m, s), or both separated
// by a comma ("30,90d"). "0" keeps every file.
func ParseRetention(s string) (Retention, error) {
	var r Retention
	var count, age bool
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if n, err := strconv.Atoi(part); err == nil {
			if count || n < 0 {
				return Retention{}, retentionErr(s)
			}
			r.Files, count = n, true
			continue
		}
		d, err := model.ParseDuration(part)
		if err != nil || age {
			return Retention{}, retentionErr(s)
		}
		r.Age, age = time.Duration(d), true
	}
	return r, nil
}

func retentionErr(s string) error {
	return fmt.Errorf("audit: --audit-retain %q: want a number of files (30), an age (30d, 720h) or both (30,90d)", s)
}

// String formats r as ParseRetention reads it.
func (r Retention) String() string {
	switch {
	case r.Age == 0:
		return strconv.Itoa(r.Files)
	case r.Files == 0:
		return model.Duration(r.Age).String()
	}
	return strconv.Itoa(r.Files) + "," + model.Duration(r.Age).String()
}

// validate reports a negative limit.
func (r Retention) validate() error {
	if r.Files < 0 || r.Age < 0 {
		return errors.New("audit: Config.Retain (--audit-retain) must not be negative")
	}
	return nil
}

// expired reports whether retention removes f, the oldest of n rotated
// files, at now.
func (r Retention) expired(f TrailFile, n int, now time.Time) bool {
	return (r.Files > 0 && n > r.Files) || (r.Age > 0 && now.Sub(f.Rotated) >= r.Age)
}
