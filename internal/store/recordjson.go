package store

import (
	"maps"
	"slices"
	"strconv"

	"github.com/paramstore/paramstore/internal/jsonenc"
)

// The state machine writes a head record, a version record and a change
// record with every put: these encoders append the JSON that encoding/json writes for them,
// byte for byte (FuzzRecordJSON compares), without reflection. The
// records' format on disk does not change; reads decode them with
// encoding/json as before.

// appendVersionJSON appends v as json.Marshal encodes a Version.
func appendVersionJSON(b []byte, v *Version) []byte {
	b = jsonenc.AppendInt(b, `{"v":`, v.Version)
	b = jsonenc.AppendMember(b, `,"t":`, v.Type)
	b = jsonenc.AppendMember(b, `,"val":`, v.Value)
	b = jsonenc.AppendOptional(b, `,"k":`, v.KeyID)
	b = jsonenc.AppendOptional(b, `,"d":`, v.Description)
	b = jsonenc.AppendOptional(b, `,"ap":`, v.AllowedPattern)
	b = jsonenc.AppendOptional(b, `,"dt":`, v.DataType)
	b = jsonenc.AppendOptional(b, `,"tier":`, v.Tier)
	b = jsonenc.AppendOptional(b, `,"pol":`, v.Policies)
	b = jsonenc.AppendInt(b, `,"m":`, v.Modified)
	b = jsonenc.AppendOptional(b, `,"u":`, v.User)
	return append(b, '}')
}

// appendParamJSON appends p as json.Marshal encodes a Parameter.
func appendParamJSON(b []byte, p *Parameter) []byte {
	b = jsonenc.AppendMember(b, `{"n":`, p.Name)
	b = appendVersionJSON(append(b, `,"l":`...), &p.Latest)
	b = append(b, `,"vs":`...)
	if p.Versions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, v := range p.Versions {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v, 10)
		}
		b = append(b, ']')
	}
	if len(p.Labels) > 0 {
		b = append(b, `,"lb":{`...)
		for i, l := range slices.Sorted(maps.Keys(p.Labels)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, l)
			b = strconv.AppendInt(append(b, ':'), p.Labels[l], 10)
		}
		b = append(b, '}')
	}
	if len(p.Tags) > 0 {
		b = append(b, `,"tg":{`...)
		for i, k := range slices.Sorted(maps.Keys(p.Tags)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, k)
			b = jsonenc.AppendString(append(b, ':'), p.Tags[k])
		}
		b = append(b, '}')
	}
	b = strconv.AppendUint(append(b, `,"mi":`...), p.ModIndex, 10)
	if len(p.Fired) > 0 {
		b = append(b, `,"pf":[`...)
		for i, f := range p.Fired {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, f)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendChangeJSON appends ch as json.Marshal encodes a Change.
func appendChangeJSON(b []byte, ch *Change) []byte {
	b = jsonenc.AppendMember(b, `{"t":`, ch.Tenancy)
	b = jsonenc.AppendMember(b, `,"n":`, ch.Name)
	b = jsonenc.AppendMember(b, `,"k":`, ch.Key)
	if ch.Version != 0 {
		b = jsonenc.AppendInt(b, `,"v":`, ch.Version)
	}
	if ch.Deleted {
		b = append(b, `,"d":true`...)
	}
	return append(b, '}')
}
