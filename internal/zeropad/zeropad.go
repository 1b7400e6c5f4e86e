// Package zeropad appends fixed-width, zero-padded decimal numbers: the
// digits of the hand-written time formats on the hot paths (the audit
// record's eventTime, SigV4's X-Amz-Date), which the time package would
// write by walking a layout on every call.
package zeropad

// Append appends the n low decimal digits of v, zero padded: Append(b, 7,
// 3) appends "007", Append(b, 2026, 2) appends "26". v must not be
// negative. It is small enough to be inlined at each call.
func Append(b []byte, v, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		p := 1
		for range i {
			p *= 10
		}
		b = append(b, byte('0'+v/p%10))
	}
	return b
}
