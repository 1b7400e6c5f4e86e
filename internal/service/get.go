package service

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

const secretsManagerRefs = "/aws/reference/secretsmanager/"

// resolved is a parameter version found for a read.
type resolved struct {
	key     string // the name's identity (ssm.Name.Key)
	param   *store.Parameter
	version *store.Version
	// name is the Name to answer with; "" means the stored name.
	name string
	// arn is the parameter's ARN when resolve built it already, else "".
	arn string
}

// resolve finds the version a GetParameter-style reference names
// (spec §7.2 steps 2-6), once the caller may perform action on it.
func resolve(r *store.Reader, c Caller, action string, ref ssm.Reference) (*resolved, error) {
	t := c.Tenancy
	if strings.HasPrefix(ref.Name, secretsManagerRefs) {
		if err := c.authorize(action, t.ARN(ref.Name), nil); err != nil {
			return nil, err
		}
		return nil, ssm.ErrParameterNotFound()
	}
	name, nerr := ssm.ParseName(ref.Name)
	if nerr != nil {
		return nil, nerr
	}
	if ref.Foreign || ref.Bad {
		if err := c.authorize(action, name.ARN(t), nil); err != nil {
			return nil, err
		}
		return nil, ssm.ErrParameterNotFound()
	}
	p, err := r.Param(t.Key(), name.Key())
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	arn := name.ARN(t)
	if err := c.authorize(action, arn, tagsOf(p)); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, ssm.ErrParameterNotFound()
	}
	res := &resolved{key: name.Key(), param: p, version: &p.Latest}
	if spelled := name.String(); strings.TrimPrefix(spelled, "/") == strings.TrimPrefix(p.Name, "/") {
		res.arn = arn // the same ARN: parameterOf need not build it again
	}
	if !ref.ARN {
		// AWS answers with the spelling the caller used: "/p" and "p" are
		// the same root parameter (spec §6.2). An ARN does not tell which
		// spelling; then the name is the stored one.
		res.name = name.String()
	}
	if !ref.HasSel {
		return res, nil
	}
	want := ref.Version
	if ref.Label != "" {
		v, ok := p.Labels[ref.Label]
		if !ok {
			return nil, ssm.ErrParameterNotFound()
		}
		want = v
	}
	if want == p.Latest.Version {
		return res, nil
	}
	v, err := r.Version(t.Key(), name.Key(), want)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	if v == nil {
		return nil, ssm.ErrVersionNotFound(want, p.Name)
	}
	res.version = v
	return res, nil
}

// value returns the value to show: plaintext, or for a SecureString without
// decryption the envelope text. Decryption requires kms:Decrypt on the key.
func (s *Service) value(r *store.Reader, c Caller, key string, v *store.Version, decrypt bool) (string, error) {
	if v.Type != ssm.TypeSecureString || !decrypt {
		return v.Value, nil
	}
	return s.decrypt(r, c, key, v)
}

func (s *Service) parameterOf(r *store.Reader, c Caller, res *resolved, decrypt bool) (ssm.Parameter, error) {
	ts := new(ssm.Timestamp)
	return s.parameterAt(r, c, res, decrypt, ts)
}

// parameterAt is parameterOf with its LastModifiedDate in *ts, which the
// caller allocates (GetParameter: with its output, in one allocation).
func (s *Service) parameterAt(r *store.Reader, c Caller, res *resolved, decrypt bool, ts *ssm.Timestamp) (ssm.Parameter, error) {
	val, err := s.value(r, c, res.key, res.version, decrypt)
	if err != nil {
		return ssm.Parameter{}, err
	}
	*ts = ssm.TimestampMillis(res.version.Modified)
	name := res.name
	if name == "" {
		name = res.param.Name
	}
	arn := res.arn
	if arn == "" {
		arn = c.Tenancy.ARN(res.param.Name)
	}
	return ssm.Parameter{
		Name:             name,
		Type:             res.version.Type,
		Value:            val,
		Version:          res.version.Version,
		LastModifiedDate: ts,
		ARN:              arn,
		DataType:         dataType(res.version.DataType),
	}, nil
}

func dataType(dt string) string {
	if dt == "" {
		return ssm.DataTypeText
	}
	return dt
}

// GetParameter reads one parameter (spec §7.2).
func (s *Service) GetParameter(ctx context.Context, c Caller, in *ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ref := ssm.ParseReference(c.Tenancy, *in.Name, true)
	// The output, its parameter and its date: one allocation.
	g := new(struct {
		out ssm.GetParameterOutput
		p   ssm.Parameter
		ts  ssm.Timestamp
	})
	err := s.view(store.WithPointReads(ctx), func(r *store.Reader) error {
		res, err := resolve(r, c, "ssm:GetParameter", ref)
		if err != nil {
			return err
		}
		p, err := s.parameterAt(r, c, res, deref(in.WithDecryption), &g.ts)
		if err != nil {
			return err
		}
		if ref.HasSel {
			p.Selector = ":" + ref.Selector
		}
		g.p = p
		g.out.Parameter = &g.p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &g.out, nil
}

// GetParameters reads up to 10 parameters; names that do not resolve are
// reported in InvalidParameters (spec §7.3).
func (s *Service) GetParameters(ctx context.Context, c Caller, in *ssm.GetParametersInput) (*ssm.GetParametersOutput, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out ssm.GetParametersOutput
	err := s.view(store.WithPointReads(ctx), func(r *store.Reader) error {
		// Set afresh: a point read may run twice (store.WithPointReads).
		out = ssm.GetParametersOutput{Parameters: []ssm.Parameter{}, InvalidParameters: []string{}}
		seen := map[string]bool{}
		for _, raw := range in.Names {
			if seen[raw] {
				continue
			}
			seen[raw] = true
			ref := ssm.ParseReference(c.Tenancy, raw, true)
			res, err := resolve(r, c, "ssm:GetParameters", ref)
			if err != nil {
				var e *ssm.Error
				if errors.As(err, &e) && (e.Code == ssm.CodeParameterNotFound ||
					e.Code == ssm.CodeParameterVersionNotFound || e.Code == ssm.CodeValidation) {
					out.InvalidParameters = append(out.InvalidParameters, raw)
					continue
				}
				return err
			}
			p, err := s.parameterOf(r, c, res, deref(in.WithDecryption))
			if err != nil {
				return err
			}
			if ref.HasSel {
				p.Selector = ":" + ref.Selector
			}
			out.Parameters = append(out.Parameters, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out.Parameters, func(a, b ssm.Parameter) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(a.Version - b.Version)
	})
	return &out, nil
}

// GetParameterHistory lists the retained versions of a parameter in
// ascending order, paginated (spec §7.5).
func (s *Service) GetParameterHistory(ctx context.Context, c Caller, in *ssm.GetParameterHistoryInput) (*ssm.GetParameterHistoryOutput, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ref := ssm.ParseReference(c.Tenancy, *in.Name, false)
	name, nerr := ssm.ParseName(ref.Name)
	if nerr != nil {
		return nil, nerr
	}
	key := name.Key()
	tok := s.newToken("GetParameterHistory", c.Tenancy, key)
	from := int64(0)
	if in.NextToken != nil {
		last, err := tok.open(*in.NextToken)
		if err != nil {
			return nil, err
		}
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil {
			return nil, ssm.ErrInvalidNextToken()
		}
		from = n + 1
	}
	limit := int(50)
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	out := ssm.GetParameterHistoryOutput{Parameters: []ssm.ParameterHistory{}}
	err := s.view(ctx, func(r *store.Reader) error {
		p, err := r.Param(c.Tenancy.Key(), key)
		if err != nil {
			return ssm.Wrap(err)
		}
		if ref.Foreign {
			p = nil
		}
		if err := c.authorize("ssm:GetParameterHistory", name.ARN(c.Tenancy), tagsOf(p)); err != nil {
			return err
		}
		if p == nil {
			return ssm.ErrParameterNotFound()
		}
		return r.Versions(c.Tenancy.Key(), key, from, func(v *store.Version) (bool, error) {
			if len(out.Parameters) == limit {
				out.NextToken = tok.seal(strconv.FormatInt(out.Parameters[limit-1].Version, 10))
				return false, nil
			}
			val, err := s.value(r, c, key, v, deref(in.WithDecryption))
			if err != nil {
				return false, err
			}
			out.Parameters = append(out.Parameters, historyOf(p, v, val))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// historyOf describes version v of p, showing value as its value.
func historyOf(p *store.Parameter, v *store.Version, value string) ssm.ParameterHistory {
	return ssm.ParameterHistory{
		Name:             p.Name,
		Type:             v.Type,
		KeyId:            v.KeyID,
		LastModifiedDate: ssm.TimestampMillis(v.Modified),
		LastModifiedUser: v.User,
		Description:      v.Description,
		Value:            value,
		AllowedPattern:   v.AllowedPattern,
		Version:          v.Version,
		Labels:           p.LabelsOf(v.Version),
		Tier:             v.Tier,
		Policies:         inlinePolicies(v.Policies, firedOf(p, v)),
		DataType:         dataType(v.DataType),
	}
}

// firedOf is the fired policies of version v: only the latest version's
// policies run.
func firedOf(p *store.Parameter, v *store.Version) []string {
	if v.Version != p.Latest.Version {
		return nil
	}
	return p.Fired
}
