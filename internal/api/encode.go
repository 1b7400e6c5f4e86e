package api

import (
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
