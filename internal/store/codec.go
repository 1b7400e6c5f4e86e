package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// The compact encoding of put commands in the raft log.
//
// A parameter write is the command the log carries most, and JSON was a
// good part of its cost (encode on propose, decode on apply, per entry):
// MarshalCompact writes an OpPut that carries only what a put carries in a
// hand-written binary form, and every other command in JSON, as Marshal
// does. UnmarshalCommand reads both, told apart by the first byte (JSON
// starts with '{', the compact form with compactMagic), so the entries of
// a log written before the compact form existed apply as they did.
//
// The form, after compactMagic: the op, ID, tenancy and name as strings;
// a flags byte (bit 0: Create); Expect (uvarint), Quota and Time
// (varints); Prune (a count, then varints); a presence byte for Param and
// the parameter: its name, the latest version (its number, the strings
// type, value, key ID, description, allowed pattern, data type, tier and
// policies, the modified time, the user), the retained version numbers,
// the labels and tags (sorted by name, so the encoding is deterministic),
// the mod index and the fired policies; with flags bit 1, the origin (a
// string) and the intent (a uvarint length and its bytes, see
// Command.Intent). A string is a uvarint length and its bytes; a count is
// a uvarint. Nothing may follow.
//
// An older paramstore cannot read the compact form: raftstore proposes it
// on a node with no peers, and in a cluster only while every member has
// advertised CodecCompact (raftstore/logcodec.go). Going back to an older
// version needs a clean shutdown first (then the state machine holds every
// entry, and none is applied again).
const compactMagic byte = 0x01

// CodecCompact names the compact form where nodes advertise the encodings
// they decode (NodeInfo.Codecs). Version 2 is the form with the intent
// (flags bit 1), which clusters carry since 2026-12-02: a node that
// decodes only version 1 ("compact-put-1", which refuses that flag) keeps
// the cluster's gate closed, and the log in JSON (whose intent members it
// ignores).
const CodecCompact = "compact-put-2"

// IsCompact reports whether an encoded command is in the compact form.
func IsCompact(b []byte) bool { return len(b) > 0 && b[0] == compactMagic }

// EncodedOp returns the Op of an encoded command (either form) without
// decoding it, or "" when b is neither form.
func EncodedOp(b []byte) Op { return commandOp(b) }

// MarshalCompact encodes a command for the raft log: a put in the compact
// form (see above), any other command as Marshal does.
func (c *Command) MarshalCompact() ([]byte, error) {
	if !compactable(c) {
		return c.Marshal()
	}
	return c.appendCompact(make([]byte, 0, compactSize(c))), nil
}

// compactable reports whether the compact form carries all of c: an OpPut
// with none of the members of other commands.
func compactable(c *Command) bool {
	return c.Op == OpPut && c.Labels == nil && c.Tags == nil && c.SettingID == "" && c.Setting == nil &&
		c.Key == nil && c.Principal == nil && c.AccessKey == nil && c.Node == nil && c.KeyCheck == nil &&
		c.Incident == nil && c.IncidentOpened == nil && c.IncidentClosed == nil && c.Sub == nil && c.Ack == nil &&
		c.Policy == nil
}

// compactSize is a capacity for the encoding of c that is usually enough.
func compactSize(c *Command) int {
	n := 64 + len(c.Op) + len(c.ID) + len(c.Tenancy) + len(c.Name) + 10*len(c.Prune) + len(c.Origin) + len(c.Intent)
	if p := c.Param; p != nil {
		v := &p.Latest
		n += 64 + len(p.Name) + len(v.Type) + len(v.Value) + len(v.KeyID) + len(v.Description) +
			len(v.AllowedPattern) + len(v.DataType) + len(v.Tier) + len(v.Policies) + len(v.User) + 10*len(p.Versions)
		for l := range p.Labels {
			n += len(l) + 12
		}
		for k, v := range p.Tags {
			n += len(k) + len(v) + 4
		}
		for _, f := range p.Fired {
			n += len(f) + 2
		}
	}
	return n
}

func (c *Command) appendCompact(b []byte) []byte {
	b = append(b, compactMagic)
	b = appendString(b, string(c.Op))
	b = appendString(b, c.ID)
	b = appendString(b, c.Tenancy)
	b = appendString(b, c.Name)
	var flags byte
	if c.Create {
		flags |= 1
	}
	if c.Intent != nil || c.Origin != "" {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, c.Expect)
	b = binary.AppendVarint(b, c.Quota)
	b = binary.AppendVarint(b, c.Time)
	b = appendInts(b, c.Prune)
	p := c.Param
	if p == nil {
		b = append(b, 0)
		return c.appendIntent(b)
	}
	b = append(b, 1)
	b = appendString(b, p.Name)
	v := &p.Latest
	b = binary.AppendVarint(b, v.Version)
	for _, s := range [...]string{v.Type, v.Value, v.KeyID, v.Description, v.AllowedPattern, v.DataType, v.Tier, v.Policies} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, v.Modified)
	b = appendString(b, v.User)
	b = appendInts(b, p.Versions)
	b = binary.AppendUvarint(b, uint64(len(p.Labels)))
	if len(p.Labels) > 0 {
		for _, l := range slices.Sorted(maps.Keys(p.Labels)) {
			b = appendString(b, l)
			b = binary.AppendVarint(b, p.Labels[l])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Tags)))
	if len(p.Tags) > 0 {
		for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
			b = appendString(b, k)
			b = appendString(b, p.Tags[k])
		}
	}
	b = binary.AppendUvarint(b, p.ModIndex)
	b = binary.AppendUvarint(b, uint64(len(p.Fired)))
	for _, f := range p.Fired {
		b = appendString(b, f)
	}
	return c.appendIntent(b)
}

// appendIntent appends the origin and intent of a command that carries one
// (flags bit 2).
func (c *Command) appendIntent(b []byte) []byte {
	if c.Intent == nil && c.Origin == "" {
		return b
	}
	b = appendString(b, c.Origin)
	b = binary.AppendUvarint(b, uint64(len(c.Intent)))
	return append(b, c.Intent...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendInts(b []byte, xs []int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(xs)))
	for _, x := range xs {
		b = binary.AppendVarint(b, x)
	}
	return b
}

// compactReader decodes the compact form. Strings are cut from one copy of
// the whole encoding (one allocation for all of them); the first error
// sticks, and every later read returns a zero value.
type compactReader struct {
	s   string // the encoding, after compactMagic
	off int
	err error
}

var errCompactShort = errors.New("truncated")

func (r *compactReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *compactReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; ; i++ {
		if r.off >= len(r.s) {
			r.fail(errCompactShort)
			return 0
		}
		c := r.s[r.off]
		r.off++
		if i == binary.MaxVarintLen64-1 && c > 1 {
			r.fail(errors.New("varint overflows 64 bits"))
			return 0
		}
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
}

func (r *compactReader) varint() int64 {
	ux := r.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (r *compactReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.s) {
		r.fail(errCompactShort)
		return 0
	}
	r.off++
	return r.s[r.off-1]
}

// count reads a count of elements that take at least one byte each.
func (r *compactReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.s)-r.off) {
		r.fail(fmt.Errorf("count %d exceeds the %d bytes left", n, len(r.s)-r.off))
		return 0
	}
	return int(n)
}

func (r *compactReader) string() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := r.s[r.off : r.off+n]
	r.off += n
	return s
}

func (r *compactReader) ints() []int64 {
	n := r.count()
	if n == 0 {
		return nil
	}
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = r.varint()
	}
	return xs
}

// unmarshalCompact decodes the compact form of a command (b starts with
// compactMagic).
func unmarshalCompact(b []byte) (*Command, error) {
	r := compactReader{s: string(b[1:])}
	c := &Command{}
	c.Op = Op(r.string())
	c.ID = r.string()
	c.Tenancy = r.string()
	c.Name = r.string()
	flags := r.byte()
	if flags&^3 != 0 {
		r.fail(fmt.Errorf("unknown flags %#x", flags))
	}
	c.Create = flags&1 != 0
	c.Expect = r.uvarint()
	c.Quota = r.varint()
	c.Time = r.varint()
	c.Prune = r.ints()
	switch has := r.byte(); {
	case r.err != nil:
	case has == 1:
		c.Param = r.param()
	case has != 0:
		r.fail(fmt.Errorf("bad parameter marker %#x", has))
	}
	if flags&2 != 0 && r.err == nil {
		c.Origin = r.string()
		// The intent is b's own bytes, not a copy: it is only read (the
		// trail copies it into its buffer; Options.OnIntent), and an
		// entry's data is never written after it is decoded.
		if in := r.string(); in != "" {
			end := 1 + r.off
			c.Intent = b[end-len(in) : end : end]
		}
	}
	if r.err == nil && r.off != len(r.s) {
		r.fail(fmt.Errorf("%d bytes after the command", len(r.s)-r.off))
	}
	if r.err != nil {
		return nil, fmt.Errorf("store: decode command: compact form at byte %d: %w", r.off+1, r.err)
	}
	if c.Op != OpPut {
		return nil, fmt.Errorf("store: decode command: compact form of op %q (only %q has one)", c.Op, OpPut)
	}
	return c, nil
}

func (r *compactReader) param() *Parameter {
	p := &Parameter{Name: r.string()}
	v := &p.Latest
	v.Version = r.varint()
	for _, s := range [...]*string{&v.Type, &v.Value, &v.KeyID, &v.Description, &v.AllowedPattern, &v.DataType, &v.Tier, &v.Policies} {
		*s = r.string()
	}
	v.Modified = r.varint()
	v.User = r.string()
	p.Versions = r.ints()
	if n := r.count(); n > 0 {
		p.Labels = make(map[string]int64, n)
		for range n {
			l := r.string()
			p.Labels[l] = r.varint()
		}
	}
	if n := r.count(); n > 0 {
		p.Tags = make(map[string]string, n)
		for range n {
			k := r.string()
			p.Tags[k] = r.string()
		}
	}
	p.ModIndex = r.uvarint()
	if n := r.count(); n > 0 {
		p.Fired = make([]string, n)
		for i := range p.Fired {
			p.Fired[i] = r.string()
		}
	}
	return p
}
