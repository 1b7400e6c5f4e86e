package api

import (
	"bytes"

	"github.com/paramstore/paramstore/internal/jsonenc"
	"github.com/paramstore/paramstore/internal/ssm"
)

// The responses of GetParameter and GetParameters, encoded by hand: they
// answer most calls, and encoding/json's reflection was a fifth of a
// GetParameter's allocations. The bytes are encoding/json's (json.Marshal
// of the same value); TestAppendJSON and FuzzAppendJSON compare them.
// encodeResponse uses them, and encoding/json for every other output.

// appendResponse appends the JSON encoding of out when it is one of the
// outputs encoded by hand, and reports whether it was.
func appendResponse(b []byte, out any) ([]byte, bool) {
	switch o := out.(type) {
	case *ssm.GetParameterOutput:
		return appendGetParameterOutput(b, o), true
	case *ssm.GetParametersOutput:
		return appendGetParametersOutput(b, o), true
	}
	return b, false
}

func appendParameter(b []byte, p *ssm.Parameter) []byte {
	b = jsonenc.AppendMember(b, `{"Name":`, p.Name)
	b = jsonenc.AppendMember(b, `,"Type":`, p.Type)
	b = jsonenc.AppendMember(b, `,"Value":`, p.Value)
	b = jsonenc.AppendInt(b, `,"Version":`, p.Version)
	b = jsonenc.AppendOptional(b, `,"Selector":`, p.Selector)
	b = jsonenc.AppendOptional(b, `,"SourceResult":`, p.SourceResult)
	if p.LastModifiedDate != nil {
		b = p.LastModifiedDate.AppendJSON(append(b, `,"LastModifiedDate":`...))
	}
	b = jsonenc.AppendMember(b, `,"ARN":`, p.ARN)
	b = jsonenc.AppendMember(b, `,"DataType":`, p.DataType)
	return append(b, '}')
}

func appendGetParameterOutput(b []byte, o *ssm.GetParameterOutput) []byte {
	b = append(b, `{"Parameter":`...)
	if o.Parameter == nil {
		b = append(b, "null"...)
	} else {
		b = appendParameter(b, o.Parameter)
	}
	return append(b, '}')
}

func appendGetParametersOutput(b []byte, o *ssm.GetParametersOutput) []byte {
	b = append(b, `{"Parameters":`...)
	if o.Parameters == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range o.Parameters {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendParameter(b, &o.Parameters[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"InvalidParameters":`...)
	if o.InvalidParameters == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range o.InvalidParameters {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// decodeFast decodes the most common request body of the hot reads,
// {"Name":"...","WithDecryption":true} with plain printable ASCII names,
// without encoding/json's reflection, and reports whether it did. Any other
// body (escapes, other members or cases, repeated members, other types) is
// left to decode's general path, so the errors stay encoding/json's.
func decodeFast(body []byte, v any) bool {
	in, ok := v.(*ssm.GetParameterInput)
	if !ok {
		return false
	}
	var out ssm.GetParameterInput
	var haveName, haveDecrypt bool
	p := fastParser{b: body}
	if !p.byte('{') {
		return false
	}
	for first := true; ; first = false {
		if p.byte('}') {
			break
		}
		if !first && !p.byte(',') {
			return false
		}
		key, ok := p.plainString()
		if !ok || !p.byte(':') {
			return false
		}
		switch {
		case key == "Name" && !haveName:
			name, ok := p.plainString()
			if !ok {
				return false
			}
			out.Name, haveName = &name, true
		case key == "WithDecryption" && !haveDecrypt:
			b, ok := p.boolean()
			if !ok {
				return false
			}
			out.WithDecryption, haveDecrypt = &b, true
		default:
			return false
		}
	}
	p.space()
	if p.i != len(p.b) {
		return false
	}
	*in = out
	return true
}

// fastParser reads the few JSON forms decodeFast accepts.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// byte consumes c after optional whitespace.
func (p *fastParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plainString consumes a string of printable ASCII without escapes.
func (p *fastParser) plainString() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", false
		}
	}
	return "", false
}

func (p *fastParser) boolean() (bool, bool) {
	p.space()
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return true, true
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return false, true
	}
	return false, false
}
