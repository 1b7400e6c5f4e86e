package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// filter is a validated ParameterStringFilter.
type filter struct {
	key    string
	option string
	values []string
	hasVal bool
}

const (
	msgCommonPath = `Filters for common parameters can't be prefixed with "aws" or "ssm" (case-insensitive). When using global parameters, please specify within a global namespace.`
)

func filterKeyErr(msg string) error { return ssm.NewError(ssm.CodeInvalidFilterKey, msg) }

// checkFilters applies the semantic filter rules of spec §7.6.2, first
// failure wins. byPath selects the GetParametersByPath variant.
func checkFilters(in []ssm.ParameterStringFilter, byPath bool) ([]filter, error) {
	seen := map[string]bool{}
	out := make([]filter, 0, len(in))
	for _, f := range in {
		key := *f.Key
		if byPath {
			if key != "Type" && key != "KeyId" && key != "Label" {
				return nil, filterKeyErr("The following filter key is not valid: " + key + ". Valid filter keys include: [Type, KeyId].")
			}
		} else if key == "Label" {
			return nil, filterKeyErr("The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier].")
		}
		if seen[key] {
			return nil, filterKeyErr("The following filter is duplicated in the request: " + key + ". A request can contain only one occurrence of a specific filter.")
		}
		seen[key] = true
		isTag := strings.HasPrefix(key, "tag:")
		if f.Values == nil && !isTag {
			return nil, ssm.NewError(ssm.CodeInvalidFilterValue, "The following filter values are missing : null for filter key "+key+".")
		}
		opt := deref(f.Option)
		switch key {
		case "Path":
			if opt == "" {
				opt = "OneLevel"
			}
			if opt != "OneLevel" && opt != "Recursive" {
				return nil, ssm.NewError(ssm.CodeInvalidFilterOption, "The following filter option is not valid: "+opt+". Valid options include: [Recursive, OneLevel].")
			}
		default:
			if opt == "" {
				opt = "Equals"
			}
			ok := opt == "Equals" || (opt == "BeginsWith" && key != "Label") || (opt == "Contains" && key == "Name")
			if !ok {
				return nil, ssm.NewError(ssm.CodeInvalidFilterOption, "The following filter option is not valid: "+opt+". Valid options include: [BeginsWith, Equals].")
			}
		}
		vals := f.Values
		switch key {
		case "Path":
			for i, v := range vals {
				stripped := strings.TrimPrefix(v, "/")
				if strings.HasPrefix(v, "/") && (hasPrefixFold(stripped, "aws") || hasPrefixFold(stripped, "ssm")) {
					return nil, ssm.ErrValidation(msgCommonPath)
				}
				p, err := ssm.CheckPath(v)
				if err != nil {
					return nil, err
				}
				vals[i] = p
			}
		case "Tier":
			if err := checkEnumValues(vals, "Standard", "Advanced", "Intelligent-Tiering"); err != nil {
				return nil, err
			}
		case "Type":
			if err := checkEnumValues(vals, "String", "StringList", "SecureString"); err != nil {
				return nil, err
			}
		case "DataType":
			if err := checkEnumValues(vals, "text", "aws:ec2:image", "aws:ssm:integration"); err != nil {
				return nil, err
			}
		}
		out = append(out, filter{key: key, option: opt, values: vals, hasVal: f.Values != nil})
	}
	return out, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func checkEnumValues(vals []string, allowed ...string) error {
	for _, v := range vals {
		ok := false
		for _, a := range allowed {
			ok = ok || v == a
		}
		if !ok {
			return ssm.NewError(ssm.CodeInvalidFilterValue, "The following filter value is not valid: "+v+". Valid values include: ["+strings.Join(allowed, ", ")+"].")
		}
	}
	return nil
}

func matchString(option, got string, values []string) bool {
	for _, v := range values {
		switch option {
		case "BeginsWith":
			if strings.HasPrefix(got, v) {
				return true
			}
		case "Contains":
			if strings.Contains(got, v) {
				return true
			}
		default:
			if got == v {
				return true
			}
		}
	}
	return false
}

// matchName compares a Name filter; root names match under both spellings.
func matchName(option, display, key string, values []string) bool {
	if matchString(option, display, values) || matchString(option, key, values) {
		return true
	}
	if !strings.HasPrefix(key, "/") {
		if option == "Equals" {
			for _, v := range values {
				if ssm.Canonical(v) == key {
					return true
				}
			}
		}
		return matchString(option, "/"+key, values)
	}
	return false
}

// below reports whether a canonical name is strictly below a checked path.
func below(path, key string, recursive bool) bool {
	if path == "/" {
		return recursive || !strings.HasPrefix(key, "/")
	}
	prefix := path + "/"
	if !strings.HasPrefix(key, prefix) {
		return false
	}
	return recursive || !strings.Contains(key[len(prefix):], "/")
}

// scanBelow visits the parameters strictly below path, skipping whole
// subtrees that a non-recursive listing does not need.
func scanBelow(r *store.Reader, tenancy, path string, recursive bool, after string, fn func(it *store.ScanItem) (bool, error)) error {
	prefix := ""
	if path != "/" {
		prefix = path + "/"
	}
	return r.Scan(tenancy, prefix, after, func(it *store.ScanItem) (store.ScanControl, error) {
		rest := it.Name[len(prefix):]
		if !recursive {
			if path == "/" {
				if strings.HasPrefix(it.Name, "/") {
					// Hierarchical names sort before "0": jump past them all.
					return store.ScanControl{SkipTo: "0"}, nil
				}
			} else if i := strings.IndexByte(rest, '/'); i >= 0 {
				return store.ScanControl{SkipTo: prefix + rest[:i] + "0"}, nil
			}
		}
		more, err := fn(it)
		return store.ScanControl{Stop: !more}, err
	})
}

// requestKey renders the inputs that identify a listing, for token binding.
func requestKey(parts ...any) string {
	return fmt.Sprintf("%#v", parts)
}

// GetParametersByPath lists the parameters below a path (spec §7.4).
func (s *Service) GetParametersByPath(ctx context.Context, c Caller, in *ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	path, perr := ssm.CheckPath(*in.Path)
	if perr != nil {
		return nil, perr
	}
	filters, err := checkFilters(in.ParameterFilters, true)
	if err != nil {
		return nil, err
	}
	recursive := deref(in.Recursive)
	if err := c.authorize("ssm:GetParametersByPath", c.Tenancy.ARN(path), nil); err != nil {
		return nil, err
	}
	tok := s.newToken("GetParametersByPath", c.Tenancy, requestKey(path, recursive, filters))
	after := ""
	if in.NextToken != nil {
		if after, err = tok.open(*in.NextToken); err != nil {
			return nil, err
		}
	}
	limit := 10
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	decrypt := deref(in.WithDecryption)
	t := c.Tenancy.Key()
	out := ssm.GetParametersByPathOutput{Parameters: []ssm.Parameter{}}
	lastKey := ""
	err = s.view(ctx, func(r *store.Reader) error {
		return scanBelow(r, t, path, recursive, after, func(it *store.ScanItem) (bool, error) {
			p, err := it.Load()
			if err != nil {
				return false, ssm.Wrap(err)
			}
			res, err := pathMatch(r, c.Tenancy, it.Name, p, filters)
			if err != nil || res == nil {
				return true, err
			}
			if len(out.Parameters) == limit {
				out.NextToken = tok.seal(lastKey)
				return false, nil
			}
			item, err := s.parameterOf(r, c, res, decrypt)
			if err != nil {
				return false, err
			}
			out.Parameters = append(out.Parameters, item)
			lastKey = it.Name
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// pathMatch applies the GetParametersByPath filters and returns the version
// to show (the labelled one with a Label filter), or nil.
func pathMatch(r *store.Reader, t ssm.Tenancy, key string, p *store.Parameter, filters []filter) (*resolved, error) {
	res := &resolved{key: key, param: p, version: &p.Latest}
	for _, f := range filters {
		if f.key != "Label" {
			continue
		}
		found := false
		for _, l := range f.values {
			if v, ok := p.Labels[l]; ok {
				found = true
				if v != p.Latest.Version {
					ver, err := r.Version(t.Key(), key, v)
					if err != nil {
						return nil, ssm.Wrap(err)
					}
					if ver == nil {
						return nil, nil
					}
					res.version = ver
				}
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	for _, f := range filters {
		switch f.key {
		case "Type":
			if !matchString(f.option, res.version.Type, f.values) {
				return nil, nil
			}
		case "KeyId":
			if res.version.KeyID == "" || !matchString(f.option, res.version.KeyID, f.values) {
				return nil, nil
			}
		}
	}
	return res, nil
}

// DescribeParameters lists parameter metadata with filters (spec §7.6).
func (s *Service) DescribeParameters(ctx context.Context, c Caller, in *ssm.DescribeParametersInput) (*ssm.DescribeParametersOutput, error) {
	filters, err := describeFilters(in)
	if err != nil {
		return nil, err
	}
	shared := deref(in.Shared)
	// DescribeParameters has no resource-level permissions: AWS evaluates
	// it on arn:aws:ssm:<region>:<account>:*.
	t0 := c.Tenancy
	if err := c.authorize("ssm:DescribeParameters", "arn:"+t0.Partition()+":ssm:"+t0.Region+":"+t0.Account+":*", nil); err != nil {
		return nil, err
	}
	tok := s.newToken("DescribeParameters", c.Tenancy, requestKey(filters, shared))
	after := ""
	if in.NextToken != nil {
		if after, err = tok.open(*in.NextToken); err != nil {
			return nil, err
		}
	}
	limit := 10
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	out := ssm.DescribeParametersOutput{Parameters: []ssm.ParameterMetadata{}}
	if shared {
		return &out, nil
	}
	path, recursive := "/", true
	for _, f := range filters {
		if f.key == "Path" && len(f.values) == 1 {
			path, recursive = f.values[0], f.option == "Recursive"
		}
	}
	t := c.Tenancy.Key()
	lastKey := ""
	err = s.view(ctx, func(r *store.Reader) error {
		visit := func(it *store.ScanItem) (bool, error) {
			// Name and Path filters need only the key: check them
			// before decoding the record.
			if !describeMatchKey(it.Name, filters) {
				return true, nil
			}
			p, err := it.Load()
			if err != nil {
				return false, ssm.Wrap(err)
			}
			if !describeMatch(it.Name, p, filters) {
				return true, nil
			}
			if len(out.Parameters) == limit {
				out.NextToken = tok.seal(lastKey)
				return false, nil
			}
			out.Parameters = append(out.Parameters, metadataOf(c.Tenancy, p))
			lastKey = it.Name
			return true, nil
		}
		if prefix, ok := namePrefix(filters); ok && path == "/" && recursive {
			// A hierarchical Name prefix bounds the scan by itself.
			return r.Scan(t, prefix, after, func(it *store.ScanItem) (store.ScanControl, error) {
				more, err := visit(it)
				return store.ScanControl{Stop: !more}, err
			})
		}
		return scanBelow(r, t, path, recursive, after, visit)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// describeFilters validates the request and returns its filters, the
// deprecated Filters as ParameterStringFilters.
func describeFilters(in *ssm.DescribeParametersInput) ([]filter, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if len(in.Filters) > 0 && len(in.ParameterFilters) > 0 {
		return nil, ssm.ErrValidation("You can use either Filters or ParameterFilters in a single request.")
	}
	filters, err := checkFilters(in.ParameterFilters, false)
	if err != nil {
		return nil, err
	}
	for _, f := range in.Filters {
		opt := "Equals"
		if *f.Key == "Name" {
			opt = "BeginsWith"
		}
		filters = append(filters, filter{key: *f.Key, option: opt, values: f.Values, hasVal: true})
	}
	return filters, nil
}

// metadataOf describes a parameter's latest version.
func metadataOf(t ssm.Tenancy, p *store.Parameter) ssm.ParameterMetadata {
	v := &p.Latest
	return ssm.ParameterMetadata{
		Name:             p.Name,
		ARN:              t.ARN(p.Name),
		Type:             v.Type,
		KeyId:            v.KeyID,
		LastModifiedDate: ssm.TimestampMillis(v.Modified),
		LastModifiedUser: v.User,
		Description:      v.Description,
		AllowedPattern:   v.AllowedPattern,
		Version:          v.Version,
		Tier:             v.Tier,
		Policies:         inlinePolicies(v.Policies, p.Fired),
		DataType:         dataType(v.DataType),
	}
}

// describeMatchKey checks the filters that depend only on the canonical
// name: Name (a hierarchical name is its own display name, and matchName
// tries both spellings of a root name) and Path.
func describeMatchKey(key string, filters []filter) bool {
	for _, f := range filters {
		switch f.key {
		case "Name":
			if !matchName(f.option, key, key, f.values) {
				return false
			}
		case "Path":
			ok := false
			for _, path := range f.values {
				ok = ok || below(path, key, f.option == "Recursive")
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// namePrefix returns the key prefix every match of a single Name filter
// shares: its value, when that is one hierarchical name (a root name, "/x",
// is stored as "x", so it bounds nothing).
func namePrefix(filters []filter) (string, bool) {
	prefix, found := "", false
	for _, f := range filters {
		if f.key != "Name" {
			continue
		}
		if found || len(f.values) != 1 || (f.option != "BeginsWith" && f.option != "Equals") {
			return "", false
		}
		v := f.values[0]
		if !strings.HasPrefix(v, "/") || strings.IndexByte(v[1:], '/') < 0 {
			return "", false
		}
		prefix, found = v, true
	}
	return prefix, found
}

func describeMatch(key string, p *store.Parameter, filters []filter) bool {
	v := &p.Latest
	for _, f := range filters {
		switch {
		case f.key == "Name":
			if !matchName(f.option, p.Name, key, f.values) {
				return false
			}
		case f.key == "Path":
			ok := false
			for _, path := range f.values {
				ok = ok || below(path, key, f.option == "Recursive")
			}
			if !ok {
				return false
			}
		case f.key == "Type":
			if !matchString(f.option, v.Type, f.values) {
				return false
			}
		case f.key == "KeyId":
			if v.KeyID == "" || !matchString(f.option, v.KeyID, f.values) {
				return false
			}
		case f.key == "Tier":
			if !matchString(f.option, v.Tier, f.values) {
				return false
			}
		case f.key == "DataType":
			if !matchString(f.option, dataType(v.DataType), f.values) {
				return false
			}
		case strings.HasPrefix(f.key, "tag:"):
			tv, ok := p.Tags[strings.TrimPrefix(f.key, "tag:")]
			if !ok || (f.hasVal && !matchString(f.option, tv, f.values)) {
				return false
			}
		}
	}
	return true
}
