package service

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

const (
	settingDefaultTier    = "/ssm/parameter-store/default-parameter-tier"
	settingHighThroughput = "/ssm/parameter-store/high-throughput-enabled"
)

var settingDefaults = map[string]struct {
	value   string
	allowed []string
}{
	settingDefaultTier:    {ssm.TierStandard, []string{ssm.TierStandard, ssm.TierAdvanced, ssm.TierIntelligent}},
	settingHighThroughput: {"false", []string{"true", "false"}},
}

// settingID normalizes a SettingId (short id or ARN) for a tenancy.
func settingID(t ssm.Tenancy, raw string) (string, error) {
	id := raw
	if strings.HasPrefix(raw, "arn:") {
		prefix := "arn:" + t.Partition() + ":ssm:" + t.Region + ":" + t.Account + ":servicesetting"
		rest, ok := strings.CutPrefix(raw, prefix)
		if !ok {
			return "", ssm.NewError(ssm.CodeServiceSettingNotFound, "The specified service setting wasn't found.")
		}
		id = rest
	}
	if _, ok := settingDefaults[id]; !ok {
		return "", ssm.NewError(ssm.CodeServiceSettingNotFound, "The specified service setting wasn't found.")
	}
	return id, nil
}

func settingARN(t ssm.Tenancy, id string) string {
	return "arn:" + t.Partition() + ":ssm:" + t.Region + ":" + t.Account + ":servicesetting" + id
}

func (s *Service) settingOf(t ssm.Tenancy, ten *store.Tenancy, id string) ssm.ServiceSetting {
	out := ssm.ServiceSetting{
		SettingId:        id,
		SettingValue:     settingDefaults[id].value,
		LastModifiedDate: ssm.TimestampMillis(0),
		LastModifiedUser: "System",
		ARN:              settingARN(t, id),
		Status:           "Default",
	}
	if set, ok := ten.Settings[id]; ok {
		out.SettingValue = set.Value
		out.LastModifiedDate = ssm.TimestampMillis(set.Modified)
		out.LastModifiedUser = set.User
		out.Status = "Customized"
	}
	return out
}

// GetServiceSetting reads a Parameter Store setting (spec §7.12).
func (s *Service) GetServiceSetting(ctx context.Context, c Caller, in *ssm.SettingInput) (*ssm.ServiceSettingOutput, error) {
	if err := in.Validate(false); err != nil {
		return nil, err
	}
	id, err := settingID(c.Tenancy, *in.SettingId)
	if err != nil {
		return nil, err
	}
	if err := c.authorize("ssm:GetServiceSetting", settingARN(c.Tenancy, id), nil); err != nil {
		return nil, err
	}
	var out ssm.ServiceSettingOutput
	err = s.view(ctx, func(r *store.Reader) error {
		ten, err := r.Tenancy(c.Tenancy.Key())
		if err != nil {
			return ssm.Wrap(err)
		}
		out.ServiceSetting = s.settingOf(c.Tenancy, ten, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateServiceSetting customizes a setting.
func (s *Service) UpdateServiceSetting(ctx context.Context, c Caller, in *ssm.SettingInput) (*ssm.Empty, error) {
	if err := in.Validate(true); err != nil {
		return nil, err
	}
	id, err := settingID(c.Tenancy, *in.SettingId)
	if err != nil {
		return nil, err
	}
	if err := c.authorize("ssm:UpdateServiceSetting", settingARN(c.Tenancy, id), nil); err != nil {
		return nil, err
	}
	value := *in.SettingValue
	ok := false
	for _, a := range settingDefaults[id].allowed {
		ok = ok || a == value
	}
	if !ok {
		return nil, ssm.ErrValidation("The value " + value + " is not valid for setting " + id + ".")
	}
	err = s.apply(ctx, &store.Command{Op: store.OpSetting, Tenancy: c.Tenancy.Key(), SettingID: id,
		Setting: &store.Setting{Value: value, Modified: s.nowMillis(), User: c.UserARN}})
	if err != nil {
		return nil, err
	}
	return &ssm.Empty{}, nil
}

// ResetServiceSetting restores a setting's default and returns it.
func (s *Service) ResetServiceSetting(ctx context.Context, c Caller, in *ssm.SettingInput) (*ssm.ServiceSettingOutput, error) {
	if err := in.Validate(false); err != nil {
		return nil, err
	}
	id, err := settingID(c.Tenancy, *in.SettingId)
	if err != nil {
		return nil, err
	}
	if err := c.authorize("ssm:ResetServiceSetting", settingARN(c.Tenancy, id), nil); err != nil {
		return nil, err
	}
	if err := s.apply(ctx, &store.Command{Op: store.OpSetting, Tenancy: c.Tenancy.Key(), SettingID: id}); err != nil {
		return nil, err
	}
	return &ssm.ServiceSettingOutput{ServiceSetting: s.settingOf(c.Tenancy, &store.Tenancy{}, id)}, nil
}

// KeyInfo describes a keyring key, without material.
type KeyInfo struct {
	KeyID       string `json:"KeyId"`
	Alias       string `json:"Alias,omitempty"`
	ARN         string `json:"Arn"`
	Description string `json:"Description,omitempty"`
	Enabled     bool   `json:"Enabled"`
	Created     int64  `json:"CreationDate"`
}

// CreateKey adds a named key to a tenancy's keyring. alias must be
// "alias/<name>" (letters, digits, /_-), not under alias/aws/.
func (s *Service) CreateKey(ctx context.Context, c Caller, alias, description string) (*KeyInfo, error) {
	t := c.Tenancy
	if err := c.authorize("kms:CreateKey", "*", nil); err != nil {
		return nil, err
	}
	if alias != "" {
		name, ok := strings.CutPrefix(alias, "alias/")
		if !ok || name == "" || strings.HasPrefix(name, "aws/") || len(alias) > 256 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") != "" {
			return nil, ssm.ErrValidation("Alias must be of the form alias/<name> with letters, digits, '/', '_' and '-', and not start with alias/aws/.")
		}
	}
	id := uuid.NewString()
	wrapped, err := s.kr.NewKEK(t.Key(), id)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	k := &store.Key{ID: id, Alias: alias, Description: description, Wrapped: wrapped, Created: s.nowMillis()}
	err = s.apply(ctx, &store.Command{Op: store.OpCreateKey, Tenancy: t.Key(), Key: k})
	if errors.Is(err, store.ErrExists) {
		return nil, ssm.NewError("AlreadyExistsException", "An alias with the name "+alias+" already exists")
	}
	if err != nil {
		return nil, err
	}
	return &KeyInfo{KeyID: id, Alias: alias, ARN: KeyARN(t, id), Description: description, Enabled: true, Created: k.Created}, nil
}

// ListKeys lists a tenancy's keys, the default key first.
func (s *Service) ListKeys(ctx context.Context, c Caller) ([]KeyInfo, error) {
	t := c.Tenancy
	if err := c.authorize("kms:ListKeys", "*", nil); err != nil {
		return nil, err
	}
	out := []KeyInfo{{KeyID: crypto.DefaultKeyID, Alias: ssm.DefaultKeyAlias, ARN: KeyARN(t, crypto.DefaultKeyID),
		Description: "Default key for SecureString parameters", Enabled: true}}
	err := s.view(ctx, func(r *store.Reader) error {
		keys, err := r.Keys(t.Key())
		if err != nil {
			return ssm.Wrap(err)
		}
		for _, k := range keys {
			out = append(out, KeyInfo{KeyID: k.ID, Alias: k.Alias, ARN: KeyARN(t, k.ID), Description: k.Description,
				Enabled: !k.Disabled, Created: k.Created})
		}
		return nil
	})
	return out, err
}
