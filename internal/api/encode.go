package api

import (
	"bytes"

	"github.com/paramstore/paramstore/internal/jsonenc"
	"github.com/paramstore/paramstore/internal/ssm"
)

// The responses of GetParameter, GetParameters and PutParameter, encoded by
// hand: they answer most calls, and encoding/json's reflection was a fifth
// of a GetParameter's allocations. The bytes are encoding/json's (json.Marshal
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
	case *ssm.PutParameterOutput:
		return appendPutParameterOutput(b, o), true
	}
	return b, false
}

func appendPutParameterOutput(b []byte, o *ssm.PutParameterOutput) []byte {
	b = jsonenc.AppendInt(b, `{"Version":`, o.Version)
	b = jsonenc.AppendMember(b, `,"Tier":`, o.Tier)
	return append(b, '}')
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

// decodeFast decodes the most common request bodies of the hot
// operations - GetParameter, GetParameters and PutParameter inputs whose
// members are spelled as the SDKs spell them, each once, with strings of
// plain printable ASCII and no escapes - without encoding/json's
// reflection (a tenth of a PutParameter's CPU was its decode), and reports
// whether it did. Any other body (escapes, other members or cases,
// repeated members, nulls, other types) is left to decode's general path,
// so the errors stay encoding/json's. It is written by hand rather than
// generated (easyjson and the like): three small shapes, and the general
// path must stay the judge of everything else, which a generated decoder
// would replace. FuzzDecodeFast checks that it agrees with encoding/json.
func decodeFast(body []byte, v any) bool {
	switch in := v.(type) {
	case *ssm.GetParameterInput:
		return decodeGetParameter(body, in)
	case *ssm.GetParametersInput:
		return decodeGetParameters(body, in)
	case *ssm.PutParameterInput:
		return decodePutParameter(body, in)
	}
	return false
}

func decodeGetParameter(body []byte, in *ssm.GetParameterInput) bool {
	var out ssm.GetParameterInput
	var seen fastSeen
	p := fastParser{b: body}
	ok := p.object(func(key []byte) bool {
		switch string(key) {
		case "Name":
			return seen.once(0) && p.stringPtr(&out.Name)
		case "WithDecryption":
			return seen.once(1) && p.boolPtr(&out.WithDecryption)
		}
		return false
	})
	if ok {
		*in = out
	}
	return ok
}

func decodeGetParameters(body []byte, in *ssm.GetParametersInput) bool {
	var out ssm.GetParametersInput
	var seen fastSeen
	p := fastParser{b: body}
	ok := p.object(func(key []byte) bool {
		switch string(key) {
		case "Names":
			return seen.once(0) && p.stringArray(&out.Names)
		case "WithDecryption":
			return seen.once(1) && p.boolPtr(&out.WithDecryption)
		}
		return false
	})
	if ok {
		*in = out
	}
	return ok
}

func decodePutParameter(body []byte, in *ssm.PutParameterInput) bool {
	var out ssm.PutParameterInput
	var seen fastSeen
	p := fastParser{b: body}
	ok := p.object(func(key []byte) bool {
		switch string(key) {
		case "Name":
			return seen.once(0) && p.stringPtr(&out.Name)
		case "Value":
			return seen.once(1) && p.stringPtr(&out.Value)
		case "Type":
			return seen.once(2) && p.stringPtr(&out.Type)
		case "Overwrite":
			return seen.once(3) && p.boolPtr(&out.Overwrite)
		case "Description":
			return seen.once(4) && p.stringPtr(&out.Description)
		case "KeyId":
			return seen.once(5) && p.stringPtr(&out.KeyId)
		case "AllowedPattern":
			return seen.once(6) && p.stringPtr(&out.AllowedPattern)
		case "Tier":
			return seen.once(7) && p.stringPtr(&out.Tier)
		case "Policies":
			return seen.once(8) && p.stringPtr(&out.Policies)
		case "DataType":
			return seen.once(9) && p.stringPtr(&out.DataType)
		case "Tags":
			return seen.once(10) && p.tags(&out.Tags)
		}
		return false
	})
	if ok {
		*in = out
	}
	return ok
}

// fastSeen is the set of the members an object has had.
type fastSeen uint32

// once marks member i and reports whether it is its first time.
func (s *fastSeen) once(i uint) bool {
	if *s&(1<<i) != 0 {
		return false
	}
	*s |= 1 << i
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

// plainBytes consumes a string of printable ASCII without escapes and
// returns its text, in b.
func (p *fastParser) plainBytes() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// plainString is plainBytes as a string.
func (p *fastParser) plainString() (string, bool) {
	b, ok := p.plainBytes()
	return string(b), ok
}

// object consumes a whole body that is one object: member calls consume
// each member's value after its name, and refuse what they do not take.
func (p *fastParser) object(member func(key []byte) bool) bool {
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
		key, ok := p.plainBytes()
		if !ok || !p.byte(':') || !member(key) {
			return false
		}
	}
	p.space()
	return p.i == len(p.b)
}

func (p *fastParser) stringPtr(dst **string) bool {
	s, ok := p.plainString()
	if ok {
		*dst = &s
	}
	return ok
}

func (p *fastParser) boolPtr(dst **bool) bool {
	b, ok := p.boolean()
	if ok {
		*dst = &b
	}
	return ok
}

// stringArray consumes an array of plain strings.
func (p *fastParser) stringArray(dst *[]string) bool {
	if !p.byte('[') {
		return false
	}
	out := []string{}
	for first := true; ; first = false {
		if p.byte(']') {
			break
		}
		if !first && !p.byte(',') {
			return false
		}
		s, ok := p.plainString()
		if !ok {
			return false
		}
		out = append(out, s)
	}
	*dst = out
	return true
}

// tags consumes an array of {"Key":...,"Value":...} objects of plain
// strings, each member at most once.
func (p *fastParser) tags(dst *[]ssm.Tag) bool {
	if !p.byte('[') {
		return false
	}
	out := []ssm.Tag{}
	for first := true; ; first = false {
		if p.byte(']') {
			break
		}
		if !first && !p.byte(',') || !p.byte('{') {
			return false
		}
		var tag ssm.Tag
		var seen fastSeen
		for firstMember := true; ; firstMember = false {
			if p.byte('}') {
				break
			}
			if !firstMember && !p.byte(',') {
				return false
			}
			key, ok := p.plainBytes()
			if !ok || !p.byte(':') {
				return false
			}
			switch string(key) {
			case "Key":
				ok = seen.once(0) && p.stringPtr(&tag.Key)
			case "Value":
				ok = seen.once(1) && p.stringPtr(&tag.Value)
			default:
				ok = false
			}
			if !ok {
				return false
			}
		}
		out = append(out, tag)
	}
	*dst = out
	return true
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
