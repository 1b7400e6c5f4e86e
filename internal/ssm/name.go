package ssm

import (
	"strconv"
	"strings"
)

// Name limits (spec §6.1).
const (
	MaxDepth      = 15
	MaxARNLength  = 1011
	maxNameLength = 2048
)

// Messages of name validation (spec §7.1 step 3 and §7.4).
const (
	msgSubPaths        = `Parameter name: can't be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`
	msgReservedPrefix  = `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive).`
	msgNotQualified    = `Parameter name must be a fully qualified name.`
	msgEndsWithSlash   = `Parameter name must not end with slash.`
	msgHierarchyDepth  = `A hierarchy can have a maximum of 15 levels.`
	msgNameTooLong     = `Parameter name is too long.`
	MsgPathRequirement = `The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash "/". It can't be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.`
)

// Tenancy identifies an account and region: every parameter lives in one.
type Tenancy struct {
	Account string
	Region  string
}

// Key is the tenancy's storage prefix.
func (t Tenancy) Key() string { return t.Account + ":" + t.Region }

// Partition is the ARN partition of the tenancy's region.
func (t Tenancy) Partition() string { return Partition(t.Region) }

// ARNPrefix is "arn:{partition}:ssm:{region}:{account}:parameter/".
func (t Tenancy) ARNPrefix() string { return t.ARN("") }

// ARN returns the ARN of a parameter name: never "parameter//".
func (t Tenancy) ARN(name string) string {
	// One concatenation, one allocation.
	return "arn:" + t.Partition() + ":ssm:" + t.Region + ":" + t.Account + ":parameter/" + strings.TrimPrefix(name, "/")
}

// Canonical returns the identity of a parameter name: "/foo" and "foo" are the
// same root parameter, hierarchical names keep their leading slash (§6.2).
func Canonical(name string) string {
	if len(name) > 1 && name[0] == '/' && strings.IndexByte(name[1:], '/') < 0 {
		return name[1:]
	}
	return name
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// syntaxOK applies the character, segment and qualification rules of §6.1
// (not the reserved-prefix rule). It returns the depth.
func syntaxOK(name string) (depth int, ok bool) {
	if name == "" {
		return 0, false
	}
	rest := name
	if name[0] == '/' {
		rest = name[1:]
	} else if strings.IndexByte(name, '/') >= 0 {
		return 0, false
	}
	if rest == "" {
		return 0, false
	}
	depth = 1
	prev := byte('/')
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '/' {
			if prev == '/' {
				return 0, false
			}
			depth++
		} else if !isNameChar(c) {
			return 0, false
		}
		prev = c
	}
	if prev == '/' {
		return 0, false
	}
	return depth, true
}

// CheckReadName validates a name given to a read or delete operation: the
// character, segment and qualification rules, but not the reserved prefixes,
// so public /aws/service/... names can be read (§6.1).
func CheckReadName(name string) *Error {
	if _, ok := syntaxOK(name); !ok {
		return ErrValidation(msgSubPaths)
	}
	return nil
}

// CheckPutName validates a name for PutParameter in the priority order of
// §7.1 step 3. The name must already be trimmed.
func CheckPutName(t Tenancy, name string) *Error {
	hierarchical := len(name) > 1 && name[0] == '/' && strings.IndexByte(name[1:], '/') >= 0
	switch {
	case hierarchical && hasPrefixFold(name, "/aws"):
		return NewError(CodeAccessDenied, "No access to reserved parameter name: "+name+".")
	case hierarchical && hasPrefixFold(name, "/ssm"):
		return ErrValidation(msgSubPaths)
	}
	stripped := strings.TrimPrefix(name, "/")
	if hasPrefixFold(stripped, "aws") || hasPrefixFold(stripped, "ssm") {
		return ErrValidation(msgReservedPrefix)
	}
	if name != "" && name[0] != '/' && strings.IndexByte(name, '/') >= 0 {
		return ErrValidation(msgNotQualified)
	}
	if len(name) > 1 && strings.HasSuffix(name, "/") || name == "/" {
		return ErrValidation(msgEndsWithSlash)
	}
	depth, ok := syntaxOK(name)
	if !ok {
		return ErrValidation(msgSubPaths)
	}
	if depth > MaxDepth {
		return NewError(CodeHierarchyLevelLimit, msgHierarchyDepth)
	}
	if len(t.ARNPrefix())+len(stripped) > MaxARNLength {
		return NewError(CodeAccessDenied, msgNameTooLong)
	}
	return nil
}

// Name is a parameter name parsed once, as upspin's path.Parse does: trimmed
// of surrounding spaces, checked, and canonicalised. The zero Name is no
// name; ParseName and ParsePutName make the others, so an operation that
// holds a Name holds a valid one.
type Name struct {
	spelling string // as the caller wrote it, trimmed: "/p" and "p" differ
	key      string // the identity (§6.2): "/p" and "p" are both "p"
}

// ParseName parses the name argument of a read, delete, label or tag
// operation: the syntax rules of CheckReadName, not the reserved prefixes.
func ParseName(raw string) (Name, *Error) {
	s := strings.TrimSpace(raw)
	if err := CheckReadName(s); err != nil {
		return Name{}, err
	}
	return Name{spelling: s, key: Canonical(s)}, nil
}

// ParsePutName parses the Name of PutParameter: every rule of CheckPutName,
// in its order.
func ParsePutName(t Tenancy, raw string) (Name, *Error) {
	s := strings.TrimSpace(raw)
	if err := CheckPutName(t, s); err != nil {
		return Name{}, err
	}
	return Name{spelling: s, key: Canonical(s)}, nil
}

// String is the name as the caller spelled it, trimmed.
func (n Name) String() string { return n.spelling }

// Key is the name's identity, under which it is stored: a root name
// without its leading slash (Canonical).
func (n Name) Key() string { return n.key }

// ARN is the parameter's ARN in tenancy t; both spellings of a root name
// have the same.
func (n Name) ARN(t Tenancy) string { return t.ARN(n.spelling) }

// CheckPath validates the Path of GetParametersByPath and returns it in the
// form used for prefix matching: "/" for the root, otherwise the path without
// a trailing slash (§7.4 step 2).
func CheckPath(path string) (string, *Error) {
	if path == "/" {
		return path, nil
	}
	if !strings.HasPrefix(path, "/") {
		return "", ErrValidation(MsgPathRequirement)
	}
	p := strings.TrimSuffix(path, "/")
	if _, ok := syntaxOK(p); !ok {
		return "", ErrValidation(MsgPathRequirement)
	}
	return p, nil
}

// PathPrefix is the key prefix of the parameters strictly below a checked
// path: "/a/b" -> "/a/b/". The root "/" has no prefix form: its direct
// children are the root parameters, stored without a leading slash.
func PathPrefix(path string) string {
	if path == "/" {
		return "/"
	}
	return path + "/"
}

// Reference is a parsed name argument of a read: an optional ARN prefix
// removed, and an optional selector split off (§6.3, §6.4).
type Reference struct {
	Name     string // the bare name, as written by the caller
	Selector string // text after the first ':', without the colon; "" if none
	HasSel   bool
	Version  int64 // the selected version if the selector is all digits
	Label    string
	// ARN is set when the caller named the parameter by its ARN.
	ARN bool
	// Foreign is set when an ARN names another account or region.
	Foreign bool
	// Bad is set when the reference can never resolve (two selectors).
	Bad bool
}

// ParseReference parses the Name of GetParameter/GetParameters/History.
// allowSelector is false for GetParameterHistory, which takes no selector.
func ParseReference(t Tenancy, raw string, allowSelector bool) Reference {
	s := strings.TrimSpace(raw)
	var ref Reference
	if strings.HasPrefix(s, "arn:") {
		parts := strings.SplitN(s, ":", 6)
		if len(parts) == 6 && parts[2] == "ssm" && strings.HasPrefix(parts[5], "parameter/") {
			ref.ARN = true
			if parts[3] != t.Region || parts[4] != t.Account || parts[1] != t.Partition() {
				ref.Foreign = true
			}
			rest := strings.TrimPrefix(parts[5], "parameter/")
			namePart := rest
			if i := strings.IndexByte(rest, ':'); i >= 0 {
				namePart = rest[:i]
			}
			if strings.IndexByte(namePart, '/') >= 0 {
				rest = "/" + rest
			}
			s = rest
		}
	}
	if allowSelector {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			ref.HasSel = true
			ref.Selector = s[i+1:]
			s = s[:i]
			if strings.IndexByte(ref.Selector, ':') >= 0 || ref.Selector == "" {
				ref.Bad = true
			} else if isDigits(ref.Selector) {
				v, err := strconv.ParseInt(ref.Selector, 10, 64)
				if err != nil {
					ref.Bad = true
				}
				ref.Version = v
			} else {
				ref.Label = ref.Selector
			}
		}
	}
	ref.Name = s
	return ref
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidLabel reports whether a label may be attached (§7.9 step 4).
func ValidLabel(l string) bool {
	if l == "" || len(l) > 100 {
		return false
	}
	if l[0] >= '0' && l[0] <= '9' || hasPrefixFold(l, "aws") || hasPrefixFold(l, "ssm") {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !isNameChar(l[i]) {
			return false
		}
	}
	return true
}
