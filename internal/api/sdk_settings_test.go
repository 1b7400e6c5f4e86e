package api_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

const (
	settingTier       = "/ssm/parameter-store/default-parameter-tier"
	settingThroughput = "/ssm/parameter-store/high-throughput-enabled"
	settingARNPrefix  = "arn:aws:ssm:us-east-1:123456789012:servicesetting"
)

// settingView is the comparable part of a ServiceSetting.
type settingView struct {
	ID, Value, User, ARN, Status string
}

func viewOf(s *types.ServiceSetting) settingView {
	return settingView{aws.ToString(s.SettingId), aws.ToString(s.SettingValue), aws.ToString(s.LastModifiedUser), aws.ToString(s.ARN), aws.ToString(s.Status)}
}

func (e *env) setting(c *ssm.Client, id string) settingView {
	e.t.Helper()
	out, err := c.GetServiceSetting(e.ctx, &ssm.GetServiceSettingInput{SettingId: aws.String(id)})
	if err != nil {
		e.t.Fatalf("GetServiceSetting %s: %v", id, err)
	}
	if out.ServiceSetting.LastModifiedDate == nil {
		e.t.Errorf("got no LastModifiedDate, want one")
	}
	return viewOf(out.ServiceSetting)
}

func (e *env) updateSetting(id, value string) {
	e.t.Helper()
	if _, err := e.c.UpdateServiceSetting(e.ctx, &ssm.UpdateServiceSettingInput{SettingId: aws.String(id), SettingValue: aws.String(value)}); err != nil {
		e.t.Fatalf("UpdateServiceSetting %s=%s: %v", id, value, err)
	}
}

func TestSDKServiceSettings(t *testing.T) {
	e := newEnv(t)
	user := "arn:aws:iam::123456789012:user/AKIDTEST"
	defaults := []struct {
		id   string
		want settingView
	}{
		{settingTier, settingView{settingTier, "Standard", "System", settingARNPrefix + settingTier, "Default"}},
		{settingThroughput, settingView{settingThroughput, "false", "System", settingARNPrefix + settingThroughput, "Default"}},
		{settingARNPrefix + settingTier, settingView{settingTier, "Standard", "System", settingARNPrefix + settingTier, "Default"}},
	}
	for _, tt := range defaults {
		t.Run("default "+tt.id, func(t *testing.T) {
			e := e.at(t)
			if diff := mismatch(tt.want, e.setting(e.c, tt.id)); diff != "" {
				t.Errorf("setting: %s", diff)
			}
		})
	}

	t.Run("update, use, reset", func(t *testing.T) {
		e := e.at(t)
		e.updateSetting(settingTier, "Advanced")
		want := settingView{settingTier, "Advanced", user, settingARNPrefix + settingTier, "Customized"}
		if diff := mismatch(want, e.setting(e.c, settingTier)); diff != "" {
			t.Errorf("after update: %s", diff)
		}
		if out := e.put(&ssm.PutParameterInput{Name: aws.String("/set/adv"), Value: aws.String("v"), Type: types.ParameterTypeString}); out.Tier != types.ParameterTierAdvanced {
			t.Errorf("got tier %q with the Advanced default, want Advanced", out.Tier)
		}
		// Settings are per region.
		if diff := mismatch(settingView{settingTier, "Standard", "System", "arn:aws:ssm:eu-west-1:123456789012:servicesetting" + settingTier, "Default"}, e.setting(e.client("eu-west-1"), settingTier)); diff != "" {
			t.Errorf("eu-west-1: %s", diff)
		}

		out, err := e.c.ResetServiceSetting(e.ctx, &ssm.ResetServiceSettingInput{SettingId: aws.String(settingTier)})
		if err != nil {
			t.Fatal(err)
		}
		reset := settingView{settingTier, "Standard", "System", settingARNPrefix + settingTier, "Default"}
		if diff := mismatch(reset, viewOf(out.ServiceSetting)); diff != "" {
			t.Errorf("reset output: %s", diff)
		}
		if diff := mismatch(reset, e.setting(e.c, settingTier)); diff != "" {
			t.Errorf("after reset: %s", diff)
		}
		if out := e.put(&ssm.PutParameterInput{Name: aws.String("/set/std"), Value: aws.String("v"), Type: types.ParameterTypeString}); out.Tier != types.ParameterTierStandard {
			t.Errorf("got tier %q after reset, want Standard", out.Tier)
		}
	})

	t.Run("intelligent-tiering default", func(t *testing.T) {
		e := e.at(t)
		e.updateSetting(settingARNPrefix+settingTier, "Intelligent-Tiering")
		if got := e.setting(e.c, settingTier).Value; got != "Intelligent-Tiering" {
			t.Errorf("got %q, want Intelligent-Tiering", got)
		}
		small := e.put(&ssm.PutParameterInput{Name: aws.String("/set/it-small"), Value: aws.String("v"), Type: types.ParameterTypeString})
		large := e.put(&ssm.PutParameterInput{Name: aws.String("/set/it-large"), Value: aws.String(repeat("x", 5000)), Type: types.ParameterTypeString})
		if small.Tier != types.ParameterTierStandard || large.Tier != types.ParameterTierAdvanced {
			t.Errorf("got tiers %q and %q, want Standard and Advanced", small.Tier, large.Tier)
		}
		if _, err := e.c.ResetServiceSetting(e.ctx, &ssm.ResetServiceSettingInput{SettingId: aws.String(settingARNPrefix + settingTier)}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("high throughput", func(t *testing.T) {
		e := e.at(t)
		for _, v := range []string{"true", "false"} {
			e.updateSetting(settingThroughput, v)
			if got := e.setting(e.c, settingThroughput); got.Value != v || got.Status != "Customized" {
				t.Errorf("got %+v, want %s Customized", got, v)
			}
		}
	})

	notFound := "The specified service setting wasn't found."
	errs := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"get unknown", func() error {
			_, err := e.c.GetServiceSetting(e.ctx, &ssm.GetServiceSettingInput{SettingId: aws.String("/ssm/managed-instance/activation-tier")})
			return err
		}, "ServiceSettingNotFound", notFound},
		{"update unknown", func() error {
			_, err := e.c.UpdateServiceSetting(e.ctx, &ssm.UpdateServiceSettingInput{SettingId: aws.String("/ssm/nope"), SettingValue: aws.String("x")})
			return err
		}, "ServiceSettingNotFound", notFound},
		{"reset unknown", func() error {
			_, err := e.c.ResetServiceSetting(e.ctx, &ssm.ResetServiceSettingInput{SettingId: aws.String("/ssm/nope")})
			return err
		}, "ServiceSettingNotFound", notFound},
		{"ARN of another region", func() error {
			_, err := e.c.GetServiceSetting(e.ctx, &ssm.GetServiceSettingInput{SettingId: aws.String("arn:aws:ssm:eu-west-1:123456789012:servicesetting" + settingTier)})
			return err
		}, "ServiceSettingNotFound", notFound},
		{"bad tier value", func() error {
			_, err := e.c.UpdateServiceSetting(e.ctx, &ssm.UpdateServiceSettingInput{SettingId: aws.String(settingTier), SettingValue: aws.String("standard")})
			return err
		}, "ValidationException", "The value standard is not valid for setting /ssm/parameter-store/default-parameter-tier."},
		{"bad throughput value", func() error {
			_, err := e.c.UpdateServiceSetting(e.ctx, &ssm.UpdateServiceSettingInput{SettingId: aws.String(settingThroughput), SettingValue: aws.String("maybe")})
			return err
		}, "ValidationException", "The value maybe is not valid for setting /ssm/parameter-store/high-throughput-enabled."},
		{"empty value", func() error {
			_, err := e.c.UpdateServiceSetting(e.ctx, &ssm.UpdateServiceSettingInput{SettingId: aws.String(settingTier), SettingValue: aws.String("")})
			return err
		}, "ValidationException", "1 validation error detected: Value '' at 'settingValue' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"empty id", func() error {
			_, err := e.c.GetServiceSetting(e.ctx, &ssm.GetServiceSettingInput{SettingId: aws.String("")})
			return err
		}, "ValidationException", "1 validation error detected: Value '' at 'settingId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, tt.call(), tt.code, tt.msg)
		})
	}
	if got := e.setting(e.c, settingTier); got.Status != "Default" {
		t.Errorf("got %+v after failed updates, want the default", got)
	}
}
