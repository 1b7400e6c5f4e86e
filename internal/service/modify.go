package service

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// DeleteParameter deletes a parameter with all its versions (spec §7.7).
func (s *Service) DeleteParameter(ctx context.Context, c Caller, in *ssm.NameInput) (*ssm.Empty, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	name, nerr := ssm.ParseName(*in.Name)
	if nerr != nil {
		return nil, nerr
	}
	if err := s.authorizeParam(ctx, c, "ssm:DeleteParameter", name); err != nil {
		return nil, err
	}
	err := s.apply(ctx, &store.Command{Op: store.OpDelete, Tenancy: c.Tenancy.Key(), Name: name.Key()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ssm.ErrParameterNotFound()
	}
	if err != nil {
		return nil, err
	}
	return &ssm.Empty{}, nil
}

// DeleteParameters deletes up to 10 parameters (spec §7.8).
func (s *Service) DeleteParameters(ctx context.Context, c Caller, in *ssm.NamesInput) (*ssm.DeleteParametersOutput, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	// Authorize every name before deleting any: a refused call must not
	// have deleted part of its names.
	names := make([]ssm.Name, len(in.Names))
	valid := make([]bool, len(in.Names))
	for i, raw := range in.Names {
		name, err := ssm.ParseName(raw)
		if err != nil {
			continue
		}
		names[i], valid[i] = name, true
		if err := s.authorizeParam(ctx, c, "ssm:DeleteParameters", name); err != nil {
			return nil, err
		}
	}
	out := ssm.DeleteParametersOutput{DeletedParameters: []string{}, InvalidParameters: []string{}}
	seen := map[string]bool{}
	for i, raw := range in.Names {
		if seen[raw] {
			continue
		}
		seen[raw] = true
		if !valid[i] {
			out.InvalidParameters = append(out.InvalidParameters, raw)
			continue
		}
		err := s.apply(ctx, &store.Command{Op: store.OpDelete, Tenancy: c.Tenancy.Key(), Name: names[i].Key()})
		switch {
		case errors.Is(err, store.ErrNotFound):
			out.InvalidParameters = append(out.InvalidParameters, raw)
		case err != nil:
			return nil, err
		default:
			out.DeletedParameters = append(out.DeletedParameters, raw)
		}
	}
	return &out, nil
}

// authorizeParam checks action on a parameter, with its tags if it exists.
func (s *Service) authorizeParam(ctx context.Context, c Caller, action string, name ssm.Name) error {
	if c.Authz == nil {
		return nil
	}
	return s.view(ctx, func(r *store.Reader) error {
		p, err := r.Param(c.Tenancy.Key(), name.Key())
		if err != nil {
			return ssm.Wrap(err)
		}
		return c.authorize(action, name.ARN(c.Tenancy), tagsOf(p))
	})
}

// updateMeta reads a parameter, checks that the caller may perform action
// on it, lets change compute new labels and tags, and commits them with
// compare-and-set, retrying on conflicts.
func (s *Service) updateMeta(ctx context.Context, c Caller, action string, name ssm.Name, notFound error,
	change func(p *store.Parameter) (labels map[string]int64, tags map[string]string, err error)) error {
	t := c.Tenancy.Key()
	return s.retry(ctx, t, name.Key(), func() error {
		var cmd *store.Command
		err := s.view(ctx, func(r *store.Reader) error {
			p, err := r.Param(t, name.Key())
			if err != nil {
				return ssm.Wrap(err)
			}
			if err := c.authorize(action, name.ARN(c.Tenancy), tagsOf(p)); err != nil {
				return err
			}
			if p == nil {
				return notFound
			}
			labels, tags, err := change(p)
			if err != nil || (maps.Equal(labels, p.Labels) && maps.Equal(tags, p.Tags)) {
				return err
			}
			cmd = &store.Command{Op: store.OpMeta, Tenancy: t, Name: name.Key(), Expect: p.ModIndex, Labels: labels, Tags: tags}
			return nil
		})
		if err != nil || cmd == nil {
			return err
		}
		err = s.apply(ctx, cmd)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		return err
	})
}

// LabelParameterVersion attaches (moves) labels to a version (spec §7.9).
func (s *Service) LabelParameterVersion(ctx context.Context, c Caller, in *ssm.LabelInput) (*ssm.LabelOutput, error) {
	if err := in.Validate(false); err != nil {
		return nil, err
	}
	name, nerr := ssm.ParseName(*in.Name)
	if nerr != nil {
		return nil, nerr
	}
	var out ssm.LabelOutput
	err := s.updateMeta(ctx, c, "ssm:LabelParameterVersion", name, ssm.ErrParameterNotFound(),
		func(p *store.Parameter) (map[string]int64, map[string]string, error) {
			version := p.Latest.Version
			if in.ParameterVersion != nil {
				version = *in.ParameterVersion
			}
			if !p.HasVersion(version) {
				return nil, nil, ssm.ErrVersionNotFound(version, p.Name)
			}
			out = ssm.LabelOutput{InvalidLabels: []string{}, ParameterVersion: version}
			var valid []string
			for _, l := range in.Labels {
				if ssm.ValidLabel(l) {
					valid = append(valid, l)
				} else {
					out.InvalidLabels = append(out.InvalidLabels, l)
				}
			}
			after := map[string]bool{}
			for _, l := range p.LabelsOf(version) {
				after[l] = true
			}
			for _, l := range valid {
				after[l] = true
			}
			if len(after) > s.limits.MaxLabelsPerVer {
				return nil, nil, ssm.NewError(ssm.CodeLabelLimitExceeded,
					"A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.")
			}
			labels := maps.Clone(p.Labels)
			if labels == nil {
				labels = map[string]int64{}
			}
			for _, l := range valid {
				labels[l] = version
			}
			return labels, p.Tags, nil
		})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlabelParameterVersion detaches labels from a version (spec §7.10).
func (s *Service) UnlabelParameterVersion(ctx context.Context, c Caller, in *ssm.LabelInput) (*ssm.UnlabelOutput, error) {
	if err := in.Validate(true); err != nil {
		return nil, err
	}
	name, nerr := ssm.ParseName(*in.Name)
	if nerr != nil {
		return nil, nerr
	}
	var out ssm.UnlabelOutput
	err := s.updateMeta(ctx, c, "ssm:UnlabelParameterVersion", name, ssm.ErrParameterNotFound(),
		func(p *store.Parameter) (map[string]int64, map[string]string, error) {
			version := *in.ParameterVersion
			if !p.HasVersion(version) {
				return nil, nil, ssm.ErrVersionNotFound(version, p.Name)
			}
			out = ssm.UnlabelOutput{RemovedLabels: []string{}, InvalidLabels: []string{}}
			labels := maps.Clone(p.Labels)
			for _, l := range in.Labels {
				if v, ok := labels[l]; ok && v == version {
					delete(labels, l)
					out.RemovedLabels = append(out.RemovedLabels, l)
				} else if !slices.Contains(out.RemovedLabels, l) {
					out.InvalidLabels = append(out.InvalidLabels, l)
				}
			}
			return labels, p.Tags, nil
		})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// tagResource checks the resource of a tagging request and returns the
// parameter name (spec §7.11).
func tagResource(in *ssm.TagsInput) (ssm.Name, error) {
	if *in.ResourceType != "Parameter" {
		return ssm.Name{}, ssm.Bare(ssm.CodeInvalidResourceType)
	}
	name, err := ssm.ParseName(*in.ResourceId)
	if err != nil {
		return ssm.Name{}, ssm.Bare(ssm.CodeInvalidResourceID)
	}
	return name, nil
}

// AddTagsToResource adds or replaces tags of a parameter.
func (s *Service) AddTagsToResource(ctx context.Context, c Caller, in *ssm.TagsInput) (*ssm.Empty, error) {
	if err := in.Validate("add"); err != nil {
		return nil, err
	}
	name, err := tagResource(in)
	if err != nil {
		return nil, err
	}
	for _, tg := range in.Tags {
		if strings.HasPrefix(*tg.Key, "aws:") {
			return nil, ssm.ErrValidation("Tag keys must not start with aws:")
		}
	}
	err = s.updateMeta(ctx, c, "ssm:AddTagsToResource", name, ssm.Bare(ssm.CodeInvalidResourceID),
		func(p *store.Parameter) (map[string]int64, map[string]string, error) {
			tags := maps.Clone(p.Tags)
			if tags == nil {
				tags = map[string]string{}
			}
			for _, tg := range in.Tags {
				tags[*tg.Key] = *tg.Value
			}
			if len(tags) > s.limits.MaxTags {
				return nil, nil, ssm.Bare(ssm.CodeTooManyTags)
			}
			return p.Labels, tags, nil
		})
	if err != nil {
		return nil, err
	}
	return &ssm.Empty{}, nil
}

// RemoveTagsFromResource removes tags; unknown keys are ignored.
func (s *Service) RemoveTagsFromResource(ctx context.Context, c Caller, in *ssm.TagsInput) (*ssm.Empty, error) {
	if err := in.Validate("remove"); err != nil {
		return nil, err
	}
	name, err := tagResource(in)
	if err != nil {
		return nil, err
	}
	err = s.updateMeta(ctx, c, "ssm:RemoveTagsFromResource", name, ssm.Bare(ssm.CodeInvalidResourceID),
		func(p *store.Parameter) (map[string]int64, map[string]string, error) {
			tags := maps.Clone(p.Tags)
			for _, k := range in.TagKeys {
				delete(tags, k)
			}
			return p.Labels, tags, nil
		})
	if err != nil {
		return nil, err
	}
	return &ssm.Empty{}, nil
}

// ListTagsForResource lists a parameter's tags sorted by key.
func (s *Service) ListTagsForResource(ctx context.Context, c Caller, in *ssm.TagsInput) (*ssm.ListTagsOutput, error) {
	if err := in.Validate("list"); err != nil {
		return nil, err
	}
	name, err := tagResource(in)
	if err != nil {
		return nil, err
	}
	out := ssm.ListTagsOutput{TagList: []ssm.TagPair{}}
	err = s.view(ctx, func(r *store.Reader) error {
		p, err := r.Param(c.Tenancy.Key(), name.Key())
		if err != nil {
			return ssm.Wrap(err)
		}
		if err := c.authorize("ssm:ListTagsForResource", name.ARN(c.Tenancy), tagsOf(p)); err != nil {
			return err
		}
		if p == nil {
			return ssm.Bare(ssm.CodeInvalidResourceID)
		}
		for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
			out.TagList = append(out.TagList, ssm.TagPair{Key: k, Value: p.Tags[k]})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
