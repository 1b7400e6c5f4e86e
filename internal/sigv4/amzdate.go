package sigv4

import (
	"time"

	"github.com/paramstore/paramstore/internal/zeropad"
)

// The X-Amz-Date format (timeFormat, "20060102T150405Z") by hand: every
// request parses one and writes it into its string to sign, and the time
// package walks the layout each time.

// parseAmzDate parses s in timeFormat exactly: what time.Parse accepts and
// formats back to s.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(timeFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	var f [6]int // year, month, day, hour, minute, second
	for i, span := range [6][2]int{{0, 4}, {4, 6}, {6, 8}, {9, 11}, {11, 13}, {13, 15}} {
		for _, c := range []byte(s[span[0]:span[1]]) {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			f[i] = f[i]*10 + int(c-'0')
		}
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, time.UTC)
	// time.Date normalizes fields out of range (month 13, hour 24, second
	// 60, February 30): such a date does not read back the same.
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y != f[0] || int(mo) != f[1] || d != f[2] || h != f[3] || mi != f[4] || sec != f[5] {
		return time.Time{}, false
	}
	return t, true
}

// appendAmzDate appends t, in UTC, in timeFormat.
func appendAmzDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, timeFormat)
	}
	h, mi, sec := t.Clock()
	b = zeropad.Append(b, y, 4)
	b = zeropad.Append(b, int(mo), 2)
	b = zeropad.Append(b, d, 2)
	b = append(b, 'T')
	b = zeropad.Append(b, h, 2)
	b = zeropad.Append(b, mi, 2)
	b = zeropad.Append(b, sec, 2)
	return append(b, 'Z')
}
