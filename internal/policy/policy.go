package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Policy language versions.
const (
	Version2012 = "2012-10-17" // current; policy variables are expanded
	Version2008 = "2008-10-17" // legacy; "${...}" is literal text
)

// Limits on a policy document.
const (
	MaxDocumentSize = 10240 // bytes
	MaxDepth        = 8     // nesting of JSON objects and arrays
)

// ParseError reports a malformed policy document (AWS error code
// MalformedPolicyDocument). Its message names the problem, never contains
// anything but the document's own text, and is safe to show to users.
type ParseError struct {
	// Statement is the 1-based index of the offending statement, or 0 when
	// the problem is with the document as a whole.
	Statement int
	// Msg describes the problem.
	Msg string
}

func (e *ParseError) Error() string {
	if e.Statement > 0 {
		return fmt.Sprintf("policy: statement %d: %s", e.Statement, e.Msg)
	}
	return "policy: " + e.Msg
}

// Policy is a parsed identity-based policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	version    string
	id         string
	statements []statement
	text       string // normalized JSON
}

// statement is one compiled statement.
type statement struct {
	sid         string
	deny        bool
	notAction   bool
	actions     []pattern
	notResource bool
	resources   []pattern
	conditions  []condition

	// Text as written, for String.
	actionText   []string
	resourceText []string
	condText     map[string]map[string][]string
}

// Version returns the policy language version ("2008-10-17" when the
// document has none).
func (p *Policy) Version() string { return p.version }

// ID returns the policy's Id element, or "".
func (p *Policy) ID() string { return p.id }

// UsesContext reports whether evaluating the policy can read
// Request.Context: whether a statement has a condition or a policy
// variable (${aws:username}) in an action or resource. When no policy of
// a request does, Evaluate decides the same whatever the context holds,
// and callers may leave it nil rather than build it per request.
func (p *Policy) UsesContext() bool {
	for i := range p.statements {
		st := &p.statements[i]
		if len(st.conditions) > 0 || hasVar(st.actions) || hasVar(st.resources) {
			return true
		}
	}
	return false
}

func hasVar(pats []pattern) bool {
	for i := range pats {
		if pats[i].hasVar {
			return true
		}
	}
	return false
}

// String returns the policy as normalized JSON: Version always present,
// Statement, Action, Resource and condition values always arrays, condition
// values as strings, and object keys in a fixed order. Parsing it yields an
// equivalent policy.
func (p *Policy) String() string { return p.text }

// Parse parses and validates an identity-based policy document. Any error is
// a *ParseError.
func Parse(doc []byte) (*Policy, error) {
	if len(doc) > MaxDocumentSize {
		return nil, &ParseError{Msg: fmt.Sprintf("document is %d bytes, more than the limit of %d", len(doc), MaxDocumentSize)}
	}
	if !utf8.Valid(doc) {
		return nil, &ParseError{Msg: "document is not valid UTF-8"}
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	obj, ok := root.(*object)
	if !ok {
		return nil, &ParseError{Msg: "document must be a JSON object"}
	}
	p := &Policy{version: Version2008}
	var stmts []any
	haveStmt := false
	for _, k := range obj.keys {
		v := obj.vals[k]
		switch k {
		case "Version":
			s, ok := v.(string)
			if !ok || (s != Version2012 && s != Version2008) {
				return nil, &ParseError{Msg: fmt.Sprintf("Version must be %q or %q", Version2012, Version2008)}
			}
			p.version = s
		case "Id":
			s, ok := v.(string)
			if !ok {
				return nil, &ParseError{Msg: "Id must be a string"}
			}
			p.id = s
		case "Statement":
			haveStmt = true
			switch v := v.(type) {
			case *object:
				stmts = []any{v}
			case []any:
				stmts = v
			default:
				return nil, &ParseError{Msg: "Statement must be an object or an array of objects"}
			}
		default:
			return nil, &ParseError{Msg: fmt.Sprintf("unknown element %q (expected Version, Id or Statement)", k)}
		}
	}
	if !haveStmt {
		return nil, &ParseError{Msg: "missing Statement"}
	}
	if len(stmts) == 0 {
		return nil, &ParseError{Msg: "Statement must not be empty"}
	}
	sids := make(map[string]bool)
	for i, v := range stmts {
		o, ok := v.(*object)
		if !ok {
			return nil, &ParseError{Statement: i + 1, Msg: "must be a JSON object"}
		}
		st, err := parseStatement(o, p.version == Version2012)
		if err != nil {
			return nil, &ParseError{Statement: i + 1, Msg: err.Error()}
		}
		if st.sid != "" {
			if sids[st.sid] {
				return nil, &ParseError{Statement: i + 1, Msg: fmt.Sprintf("duplicate Sid %q", st.sid)}
			}
			sids[st.sid] = true
		}
		p.statements = append(p.statements, st)
	}
	p.text = p.marshal()
	return p, nil
}

// parseStatement compiles one statement object.
func parseStatement(o *object, vars bool) (statement, error) {
	var st statement
	var haveEffect bool
	var actionKey, resourceKey string
	for _, k := range o.keys {
		v := o.vals[k]
		switch k {
		case "Sid":
			s, ok := v.(string)
			if !ok {
				//lint:ignore ST1005 policy errors start with the element's name, after "policy: statement N: "
				return st, errors.New("Sid must be a string")
			}
			for i := 0; i < len(s); i++ {
				if !isAlnum(s[i]) {
					//lint:ignore ST1005 policy errors start with the element's name, after "policy: statement N: "
					return st, fmt.Errorf("Sid %q must contain only ASCII letters and digits", s)
				}
			}
			st.sid = s
		case "Effect":
			switch v {
			case "Allow":
			case "Deny":
				st.deny = true
			default:
				return st, errors.New(`Effect must be "Allow" or "Deny"`)
			}
			haveEffect = true
		case "Action", "NotAction":
			if actionKey != "" {
				return st, errors.New("must have exactly one of Action or NotAction, not both")
			}
			actionKey = k
			list, err := stringList(k, v)
			if err != nil {
				return st, err
			}
			st.notAction = k == "NotAction"
			st.actionText = list
			for _, a := range list {
				if !validAction(a) {
					return st, fmt.Errorf(`%s %q must be "*" or "service:ActionName", e.g. "ssm:GetParameter"`, k, a)
				}
				pat, err := compilePattern(a, compileOptions{wildcards: true, fold: true})
				if err != nil {
					return st, fmt.Errorf("%s %q: %w", k, a, err)
				}
				st.actions = append(st.actions, pat)
			}
		case "Resource", "NotResource":
			if resourceKey != "" {
				return st, errors.New("must have exactly one of Resource or NotResource, not both")
			}
			resourceKey = k
			list, err := stringList(k, v)
			if err != nil {
				return st, err
			}
			st.notResource = k == "NotResource"
			st.resourceText = list
			for _, r := range list {
				pat, err := compilePattern(r, compileOptions{wildcards: true, variables: vars})
				if err != nil {
					return st, fmt.Errorf("%s %q: %w", k, r, err)
				}
				if !validResource(pat) {
					return st, fmt.Errorf(`%s %q must be "*" or an ARN (arn:partition:service:region:account:resource)`, k, r)
				}
				st.resources = append(st.resources, pat)
			}
		case "Condition":
			if err := st.parseConditions(v, vars); err != nil {
				return st, err
			}
		case "Principal", "NotPrincipal":
			return st, fmt.Errorf("%s is not allowed in an identity-based policy", k)
		default:
			return st, fmt.Errorf("unknown element %q", k)
		}
	}
	switch {
	case !haveEffect:
		return st, errors.New(`missing Effect ("Allow" or "Deny")`)
	case actionKey == "":
		return st, errors.New("missing Action or NotAction")
	case resourceKey == "":
		return st, errors.New("missing Resource or NotResource")
	}
	return st, nil
}

// parseConditions compiles a Condition block.
func (st *statement) parseConditions(v any, vars bool) error {
	block, ok := v.(*object)
	if !ok {
		//lint:ignore ST1005 policy errors start with the element's name, after "policy: statement N: "
		return errors.New("Condition must be an object of {operator: {key: value}}")
	}
	st.condText = make(map[string]map[string][]string)
	ops := slices.Clone(block.keys)
	sort.Strings(ops)
	for _, opName := range ops {
		op, qual, ifExists, err := parseOperator(opName)
		if err != nil {
			return err
		}
		keys, ok := block.vals[opName].(*object)
		if !ok {
			return fmt.Errorf("condition %s must be an object of {key: value}", opName)
		}
		if len(keys.keys) == 0 {
			return fmt.Errorf("condition %s has no keys", opName)
		}
		text := make(map[string][]string)
		seen := make(map[string]bool)
		names := slices.Clone(keys.keys)
		sort.Strings(names)
		for _, key := range names {
			lower := strings.ToLower(key)
			if seen[lower] {
				return fmt.Errorf("condition %s: duplicate key %q (keys are case-insensitive)", opName, key)
			}
			seen[lower] = true
			if !validConditionKey(key) {
				return fmt.Errorf("condition %s: key %q must be \"prefix:name\", e.g. \"aws:SourceIp\"", opName, key)
			}
			vals, err := conditionValues(opName, key, keys.vals[key])
			if err != nil {
				return err
			}
			c := condition{operator: op, qual: qual, ifExists: ifExists, key: key, lower: lower}
			for _, s := range vals {
				cv, err := compileValue(op, opName, key, s, vars)
				if err != nil {
					return err
				}
				c.vals = append(c.vals, cv)
			}
			text[key] = vals
			st.conditions = append(st.conditions, c)
		}
		st.condText[opName] = text
	}
	if len(st.condText) == 0 {
		st.condText = nil // "Condition": {} is no condition
	}
	return nil
}

// stringList reads a string or a non-empty array of strings.
func stringList(name string, v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil, fmt.Errorf("%s must not be empty", name)
		}
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, fmt.Errorf("%s must not be an empty array", name)
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s must be a string or an array of strings", name)
			}
			if s == "" {
				return nil, fmt.Errorf("%s must not contain an empty string", name)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a string or an array of strings", name)
}

// conditionValues reads a condition value: a string, number or boolean, or
// a non-empty array of them, normalized to strings.
func conditionValues(opName, key string, v any) ([]string, error) {
	scalar := func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			return v, true
		case json.Number:
			return string(v), true
		case bool:
			if v {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("condition %s %s: value must be a string, number, boolean or an array of them", opName, key)
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("condition %s %s: value must not be an empty array", opName, key)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := scalar(e)
		if !ok {
			return nil, fmt.Errorf("condition %s %s: array elements must be strings, numbers or booleans", opName, key)
		}
		out = append(out, s)
	}
	return out, nil
}

// validAction reports whether a is "*" or "service:Name", where the service
// prefix is letters, digits and hyphens and the name letters, digits and
// wildcards.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return false
	}
	for i := 0; i < len(svc); i++ {
		if c := svc[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '*' && c != '?' {
			return false
		}
	}
	return true
}

// validResource reports whether a compiled Resource is "*" or starts with
// "arn:" and has the five colons of an ARN outside policy variables.
func validResource(p pattern) bool {
	if p.any {
		return true
	}
	var b strings.Builder
	for _, t := range p.toks {
		switch t.kind {
		case tokLit:
			b.WriteString(t.s)
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		case tokVar:
			b.WriteByte('x')
		}
	}
	s := b.String()
	return strings.HasPrefix(s, "arn:") && strings.Count(s, ":") >= 5
}

// validConditionKey reports whether k is "prefix:name" with a prefix of
// letters, digits and hyphens and a name without control characters.
func validConditionKey(k string) bool {
	prefix, name, ok := strings.Cut(k, ":")
	if !ok || prefix == "" || name == "" {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// jsonPolicy and jsonStatement fix the shape and key order of String.
type jsonPolicy struct {
	Version   string          `json:"Version"`
	ID        string          `json:"Id,omitempty"`
	Statement []jsonStatement `json:"Statement"`
}

type jsonStatement struct {
	Sid         string                         `json:"Sid,omitempty"`
	Effect      string                         `json:"Effect"`
	Action      []string                       `json:"Action,omitempty"`
	NotAction   []string                       `json:"NotAction,omitempty"`
	Resource    []string                       `json:"Resource,omitempty"`
	NotResource []string                       `json:"NotResource,omitempty"`
	Condition   map[string]map[string][]string `json:"Condition,omitempty"`
}

func (p *Policy) marshal() string {
	jp := jsonPolicy{Version: p.version, ID: p.id}
	for _, st := range p.statements {
		js := jsonStatement{Sid: st.sid, Effect: "Allow", Condition: st.condText}
		if st.deny {
			js.Effect = "Deny"
		}
		if st.notAction {
			js.NotAction = st.actionText
		} else {
			js.Action = st.actionText
		}
		if st.notResource {
			js.NotResource = st.resourceText
		} else {
			js.Resource = st.resourceText
		}
		jp.Statement = append(jp.Statement, js)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jp); err != nil {
		// Only strings, slices and maps of strings: cannot fail.
		panic("policy: marshal: " + err.Error())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// object is a JSON object that remembers its key order.
type object struct {
	keys []string
	vals map[string]any
}

// decodeJSON decodes doc into strings, json.Numbers, bools, nils, []any and
// *objects, rejecting duplicate keys, nesting deeper than MaxDepth and
// trailing data.
func decodeJSON(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: unexpected data after the document")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	d, ok := t.(json.Delim)
	if !ok {
		return t, nil
	}
	if depth >= MaxDepth {
		return nil, fmt.Errorf("document is nested more than %d levels deep", MaxDepth)
	}
	switch d {
	case '{':
		o := &object{vals: make(map[string]any)}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, jsonError(err)
			}
			k := kt.(string) // the decoder guarantees object keys are strings
			if _, dup := o.vals[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.vals[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonError(err)
		}
		return o, nil
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonError(err)
		}
		return arr, nil
	}
	return nil, fmt.Errorf("invalid JSON: unexpected %q", d)
}

func jsonError(err error) error {
	if err == io.EOF {
		return errors.New("invalid JSON: unexpected end of document")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}
