package ssm

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Violations collects model-constraint failures and turns them into one
// ValidationException, as AWS's request framework does (spec §5).
type Violations struct {
	list []string
}

func quote(v string) string { return "'" + v + "'" }

func (vs *Violations) add(value, path, constraint string) {
	var b strings.Builder
	b.WriteString("Value ")
	if value != "" {
		b.WriteString(value)
		b.WriteString(" ")
	}
	b.WriteString("at '")
	b.WriteString(path)
	b.WriteString("' failed to satisfy constraint: ")
	b.WriteString(constraint)
	vs.list = append(vs.list, b.String())
}

// Required records a missing required member.
func (vs *Violations) Required(path string, present bool) bool {
	if !present {
		vs.add("null", path, "Member must not be null")
	}
	return present
}

// Len checks the length of a string member, counted in characters.
func (vs *Violations) Len(path string, v *string, min, max int) {
	if v == nil {
		return
	}
	vs.lenOf(quote(*v), path, utf8.RuneCountInString(*v), min, max)
}

// SensitiveLen checks a sensitive member whose value is never echoed.
func (vs *Violations) SensitiveLen(path string, v *string, min, max int) {
	if v == nil {
		return
	}
	vs.lenOf("", path, utf8.RuneCountInString(*v), min, max)
}

func (vs *Violations) lenOf(shown, path string, n, min, max int) {
	if max >= 0 && n > max {
		vs.add(shown, path, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
	if n < min {
		vs.add(shown, path, "Member must have length greater than or equal to "+strconv.Itoa(min))
	}
}

// Pattern checks a string member against a regular expression.
func (vs *Violations) Pattern(path string, v *string, re *regexp.Regexp, src string) {
	if v != nil && !re.MatchString(*v) {
		vs.add(quote(*v), path, "Member must satisfy regular expression pattern: "+src)
	}
}

// Enum checks a string member against an enumeration.
func (vs *Violations) Enum(path string, v *string, values ...string) {
	if v == nil {
		return
	}
	for _, e := range values {
		if *v == e {
			return
		}
	}
	vs.add(quote(*v), path, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

// Range checks an integer member.
func (vs *Violations) Range(path string, v *int64, min, max int64) {
	if v == nil {
		return
	}
	if *v > max {
		vs.add(quote(strconv.FormatInt(*v, 10)), path, "Member must have value less than or equal to "+strconv.FormatInt(max, 10))
	}
	if *v < min {
		vs.add(quote(strconv.FormatInt(*v, 10)), path, "Member must have value greater than or equal to "+strconv.FormatInt(min, 10))
	}
}

func listValue(items []string) string { return "'[" + strings.Join(items, ", ") + "]'" }

// ListLen checks the number of elements of a list member.
func (vs *Violations) ListLen(path string, items []string, present bool, min, max int) {
	if !present {
		return
	}
	if max >= 0 && len(items) > max {
		vs.add(listValue(items), path, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
	if len(items) < min {
		vs.add(listValue(items), path, "Member must have length greater than or equal to "+strconv.Itoa(min))
	}
}

// ElemLen checks the length of every element of a list of strings; a failure
// lists all the element constraints, as AWS does.
func (vs *Violations) ElemLen(path string, items []string, min, max int) {
	for _, it := range items {
		n := utf8.RuneCountInString(it)
		if n < min || n > max {
			vs.add(listValue(items), path, "Member must satisfy constraint: [Member must have length less than or equal to "+
				strconv.Itoa(max)+", Member must have length greater than or equal to "+strconv.Itoa(min)+"]")
			return
		}
	}
}

// ElemLenPattern checks the length and pattern of every element of a list.
func (vs *Violations) ElemLenPattern(path string, items []string, min, max int, re *regexp.Regexp, src string) {
	for _, it := range items {
		n := utf8.RuneCountInString(it)
		if n < min || n > max || !re.MatchString(it) {
			vs.add(listValue(items), path, "Member must satisfy constraint: [Member must have length less than or equal to "+
				strconv.Itoa(max)+", Member must have length greater than or equal to "+strconv.Itoa(min)+
				", Member must satisfy regular expression pattern: "+src+"]")
			return
		}
	}
}

// Err returns the ValidationException, or nil when nothing failed.
func (vs *Violations) Err() *Error {
	switch n := len(vs.list); n {
	case 0:
		return nil
	case 1:
		return ErrValidation("1 validation error detected: " + vs.list[0])
	default:
		return ErrValidation(strconv.Itoa(n) + " validation errors detected: " + strings.Join(vs.list, "; "))
	}
}
