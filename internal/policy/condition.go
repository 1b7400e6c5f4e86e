package policy

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// cmpKind is how one request value is compared with one policy value.
type cmpKind uint8

const (
	cmpStringEquals cmpKind = iota
	cmpStringEqualsFold
	cmpStringLike
	cmpNumEQ
	cmpNumLT
	cmpNumLE
	cmpNumGT
	cmpNumGE
	cmpDateEQ
	cmpDateLT
	cmpDateLE
	cmpDateGT
	cmpDateGE
	cmpBool
	cmpIP
	cmpArn
	cmpNull
)

// operator is a base condition operator: a comparison, possibly negated.
type operator struct {
	cmp     cmpKind
	negated bool
}

// operators lists the base operators by name. Names are case-sensitive.
var operators = map[string]operator{
	"StringEquals":              {cmpStringEquals, false},
	"StringNotEquals":           {cmpStringEquals, true},
	"StringEqualsIgnoreCase":    {cmpStringEqualsFold, false},
	"StringNotEqualsIgnoreCase": {cmpStringEqualsFold, true},
	"StringLike":                {cmpStringLike, false},
	"StringNotLike":             {cmpStringLike, true},
	"NumericEquals":             {cmpNumEQ, false},
	"NumericNotEquals":          {cmpNumEQ, true},
	"NumericLessThan":           {cmpNumLT, false},
	"NumericLessThanEquals":     {cmpNumLE, false},
	"NumericGreaterThan":        {cmpNumGT, false},
	"NumericGreaterThanEquals":  {cmpNumGE, false},
	"DateEquals":                {cmpDateEQ, false},
	"DateNotEquals":             {cmpDateEQ, true},
	"DateLessThan":              {cmpDateLT, false},
	"DateLessThanEquals":        {cmpDateLE, false},
	"DateGreaterThan":           {cmpDateGT, false},
	"DateGreaterThanEquals":     {cmpDateGE, false},
	"Bool":                      {cmpBool, false},
	"IpAddress":                 {cmpIP, false},
	"NotIpAddress":              {cmpIP, true},
	"ArnEquals":                 {cmpArn, false},
	"ArnNotEquals":              {cmpArn, true},
	"ArnLike":                   {cmpArn, false},
	"ArnNotLike":                {cmpArn, true},
	"Null":                      {cmpNull, false},
}

// qualifier is a set operator prefix.
type qualifier uint8

const (
	qualNone qualifier = iota
	qualAnyValue
	qualAllValues
)

// condition is one compiled (operator, key, values) triple.
type condition struct {
	operator
	qual     qualifier
	ifExists bool
	key      string // as written
	lower    string // lower-case key, for lookup
	vals     []condValue
}

// condValue is one policy value, pre-parsed for its operator.
type condValue struct {
	pat  pattern      // string operators
	num  float64      // numeric operators
	time time.Time    // date operators
	b    bool         // Bool and Null
	pfx  netip.Prefix // IpAddress
	arn  *[6]pattern  // ARN operators without variables
	raw  pattern      // ARN operators with variables
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (operator, qualifier, bool, error) {
	base := name
	q := qualNone
	if rest, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
		base, q = rest, qualAnyValue
	} else if rest, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
		base, q = rest, qualAllValues
	}
	op, ok := operators[base]
	ifExists := false
	if !ok {
		if trimmed, cut := strings.CutSuffix(base, "IfExists"); cut {
			op, ok = operators[trimmed]
			ifExists = true
		}
	}
	if !ok {
		return operator{}, 0, false, fmt.Errorf("unknown condition operator %q", name)
	}
	if op.cmp == cmpNull && (ifExists || q != qualNone) {
		return operator{}, 0, false, fmt.Errorf("condition operator %q: Null takes no IfExists suffix or set qualifier", name)
	}
	return op, q, ifExists, nil
}

// compileValue parses one policy value for op. vars says whether policy
// variables are expanded (Version 2012-10-17); only string and ARN operators
// expand them.
func compileValue(op operator, opName, key, v string, vars bool) (condValue, error) {
	bad := func(what string) error {
		return fmt.Errorf("condition %s %s: value %q is not %s", opName, key, v, what)
	}
	var cv condValue
	var err error
	switch op.cmp {
	case cmpStringEquals, cmpStringEqualsFold:
		cv.pat, err = compilePattern(v, compileOptions{variables: vars})
	case cmpStringLike:
		cv.pat, err = compilePattern(v, compileOptions{wildcards: true, variables: vars})
	case cmpNumEQ, cmpNumLT, cmpNumLE, cmpNumGT, cmpNumGE:
		var ok bool
		if cv.num, ok = parseNumber(v); !ok {
			return cv, bad("a number")
		}
	case cmpDateEQ, cmpDateLT, cmpDateLE, cmpDateGT, cmpDateGE:
		var ok bool
		if cv.time, ok = parseDate(v); !ok {
			return cv, bad("an ISO 8601 date or epoch seconds")
		}
	case cmpBool, cmpNull:
		switch {
		case strings.EqualFold(v, "true"):
			cv.b = true
		case strings.EqualFold(v, "false"):
		default:
			return cv, bad(`"true" or "false"`)
		}
	case cmpIP:
		var ok bool
		if cv.pfx, ok = parsePrefix(v); !ok {
			return cv, bad("an IP address or CIDR block")
		}
	case cmpArn:
		cv.raw, err = compilePattern(v, compileOptions{wildcards: true, variables: vars})
		if err == nil && !cv.raw.hasVar {
			parts, ok := splitArnToks(cv.raw.toks)
			if !ok {
				return cv, bad("an ARN (arn:partition:service:region:account:resource)")
			}
			cv.arn = &parts
		}
	}
	if err != nil {
		return cv, fmt.Errorf("condition %s %s: %w", opName, key, err)
	}
	return cv, nil
}

// eval evaluates c against ctx.
func (c *condition) eval(ctx map[string][]string) bool {
	vals, _ := lookup(ctx, c.key, c.lower)
	present := len(vals) > 0
	if c.cmp == cmpNull {
		for i := range c.vals {
			if c.vals[i].b != present {
				return true
			}
		}
		return false
	}
	switch c.qual {
	case qualAllValues:
		for _, v := range vals {
			if !c.elem(v, ctx) {
				return false
			}
		}
		return true
	case qualAnyValue:
		if !present {
			return c.ifExists
		}
		for _, v := range vals {
			if c.elem(v, ctx) {
				return true
			}
		}
		return false
	}
	if !present {
		return c.ifExists || c.negated
	}
	for _, v := range vals {
		if c.anyMatch(v, ctx) {
			return !c.negated
		}
	}
	return c.negated
}

// elem is the per-value test used by set qualifiers: for a positive
// operator, v matches some policy value; for a negated one, v matches none.
func (c *condition) elem(v string, ctx map[string][]string) bool {
	return c.anyMatch(v, ctx) != c.negated
}

// anyMatch reports whether request value v satisfies the positive form of
// the operator against any policy value.
func (c *condition) anyMatch(v string, ctx map[string][]string) bool {
	switch c.cmp {
	case cmpStringEquals, cmpStringLike:
		for i := range c.vals {
			if c.vals[i].pat.match(v, ctx) {
				return true
			}
		}
	case cmpStringEqualsFold:
		for i := range c.vals {
			if w, ok := c.vals[i].pat.expand(ctx); ok && strings.EqualFold(v, w) {
				return true
			}
		}
	case cmpNumEQ, cmpNumLT, cmpNumLE, cmpNumGT, cmpNumGE:
		n, ok := parseNumber(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			if compareOK(c.cmp-cmpNumEQ, cmpFloat(n, c.vals[i].num)) {
				return true
			}
		}
	case cmpDateEQ, cmpDateLT, cmpDateLE, cmpDateGT, cmpDateGE:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			if compareOK(c.cmp-cmpDateEQ, t.Compare(c.vals[i].time)) {
				return true
			}
		}
	case cmpBool:
		var b bool
		switch {
		case strings.EqualFold(v, "true"):
			b = true
		case strings.EqualFold(v, "false"):
		default:
			return false
		}
		for i := range c.vals {
			if c.vals[i].b == b {
				return true
			}
		}
	case cmpIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for i := range c.vals {
			if c.vals[i].pfx.Contains(a) {
				return true
			}
		}
	case cmpArn:
		comps, ok := splitArn(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			if c.vals[i].matchArn(&comps, ctx) {
				return true
			}
		}
	}
	return false
}

// matchArn matches the six components of a request ARN against the value.
func (cv *condValue) matchArn(comps *[6]string, ctx map[string][]string) bool {
	parts := cv.arn
	if parts == nil {
		toks, ok := resolve(nil, cv.raw.toks, ctx)
		if !ok {
			return false
		}
		p, ok := splitArnToks(toks)
		if !ok {
			return false
		}
		parts = &p
	}
	for i := range parts {
		if !parts[i].match(comps[i], nil) {
			return false
		}
	}
	return true
}

// splitArn splits s into the six colon-separated components of an ARN; the
// last one keeps any further colons.
func splitArn(s string) ([6]string, bool) {
	var c [6]string
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return c, false
		}
		c[i], s = s[:j], s[j+1:]
	}
	c[5] = s
	return c, true
}

// splitArnToks is splitArn for a variable-free compiled pattern: it returns
// one pattern per component.
func splitArnToks(toks []tok) ([6]pattern, bool) {
	var parts [6][]tok
	k := 0
	for _, t := range toks {
		if t.kind != tokLit || k == 5 {
			parts[k] = append(parts[k], t)
			continue
		}
		s := t.s
		for k < 5 {
			j := strings.IndexByte(s, ':')
			if j < 0 {
				break
			}
			if j > 0 {
				parts[k] = append(parts[k], tok{kind: tokLit, s: s[:j]})
			}
			s = s[j+1:]
			k++
		}
		if s != "" {
			parts[k] = append(parts[k], tok{kind: tokLit, s: s})
		}
	}
	var out [6]pattern
	if k != 5 {
		return out, false
	}
	for i := range parts {
		out[i] = newPattern(parts[i])
	}
	return out, true
}

// newPattern wraps variable-free toks, merging adjacent literals.
func newPattern(toks []tok) pattern {
	var merged []tok
	for _, t := range toks {
		if n := len(merged); n > 0 && t.kind == tokLit && merged[n-1].kind == tokLit {
			merged[n-1].s += t.s
			continue
		}
		merged = append(merged, t)
	}
	return pattern{
		toks: merged,
		lit:  len(merged) == 0 || (len(merged) == 1 && merged[0].kind == tokLit),
		any:  len(merged) == 1 && merged[0].kind == tokStar,
	}
}

// compareOK maps a three-way comparison result to an ordering operator,
// where rel is the offset from the EQ member (EQ, LT, LE, GT, GE).
func compareOK(rel cmpKind, c int) bool {
	switch rel {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	default:
		return c >= 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseNumber parses a finite decimal number.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	// Reject forms ParseFloat accepts that are not plain decimals.
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return 0, false
		}
	}
	return f, true
}

// dateLayouts are the ISO 8601 forms accepted besides epoch seconds. A form
// without a zone is read as UTC.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z0700",
	"20060102T150405Z",
}

// parseDate parses an ISO 8601 date-time or a count of epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > 1<<40 {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parsePrefix parses a CIDR block or a single address, IPv4 or IPv6. An
// IPv4-mapped IPv6 block becomes the IPv4 block it maps.
func parsePrefix(s string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return p.Masked(), true
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}
