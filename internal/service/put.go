package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

const (
	msgTagsAndOverwrite = "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
	msgNested           = `Parameter value can't nest another parameter. Do not use "{{}}" in the value.`
	msgTypeRequired     = "A parameter type is required when you create a parameter."
	msgAlreadyExists    = "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
	msgStandardTooLarge = "Standard tier parameters support a maximum parameter value of %d characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
	msgAdvancedTooLarge = "Advanced-tier parameters support a maximum parameter value of %d characters."
	msgDowngrade        = "You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier."
	msgPoliciesStandard = "You can't assign parameter policies to a standard-parameter tier."
	msgBadPattern       = "The request doesn't meet the regular expression requirement."
	msgPatternMismatch  = "Parameter value, cannot be validated against allowedPattern: "
	msgMaxVersions      = "You attempted to create a new version of %s by calling the PutParameter API with the overwrite flag. Version %d, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again."
	msgStandardQuota    = "You have reached the maximum number of standard parameters for this AWS account and Region (%d). To add more parameters, either delete existing parameters or upgrade to the advanced-parameter tier (charges apply)."
	msgAdvancedQuota    = "You have reached the maximum number of advanced parameters for this AWS account and Region (%d)."
)

var amiID = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)

// hasNested reports a "{{" followed later by "}}" (spec §9.1).
func hasNested(v string) bool {
	i := strings.Index(v, "{{")
	return i >= 0 && strings.Contains(v[i+2:], "}}")
}

// putRequest is a PutParameter request with what needs no snapshot checked
// (spec §7.1 steps 1-4): made once by parsePut, then decided against a
// snapshot by planPut, as often as conflicts make the write retry.
type putRequest struct {
	in        *ssm.PutParameterInput // the optional attributes, as given
	tenancy   string                 // the caller's tenancy's key (ssm.Tenancy.Key)
	name      ssm.Name
	value     string
	overwrite bool
	tags      map[string]string // to set on create; nil when none
}

// parsePut checks a request in the order of spec §7.1 steps 1-4.
func (s *Service) parsePut(c Caller, in *ssm.PutParameterInput) (*putRequest, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	overwrite := deref(in.Overwrite)
	if overwrite && len(in.Tags) > 0 {
		return nil, ssm.ErrValidation(msgTagsAndOverwrite)
	}
	name, nerr := ssm.ParsePutName(c.Tenancy, *in.Name)
	if nerr != nil {
		return nil, nerr
	}
	if hasNested(*in.Value) {
		return nil, ssm.ErrValidation(msgNested)
	}
	tags, err := s.createTags(in.Tags)
	if err != nil {
		return nil, err
	}
	return &putRequest{in: in, tenancy: c.Tenancy.Key(), name: name, value: *in.Value, overwrite: overwrite, tags: tags}, nil
}

// PutParameter creates or overwrites a parameter (spec §7.1).
func (s *Service) PutParameter(ctx context.Context, c Caller, in *ssm.PutParameterInput) (*ssm.PutParameterOutput, error) {
	req, err := s.parsePut(c, in)
	if err != nil {
		return nil, err
	}
	var out *ssm.PutParameterOutput
	err = s.retry(ctx, req.tenancy, req.name.Key(), func() error {
		var cmd *store.Command
		err := s.view(store.WithPointReads(ctx), func(r *store.Reader) error {
			var err error
			cmd, err = s.planPut(r, c, req)
			return err
		})
		if err != nil {
			return err
		}
		err = s.apply(ctx, cmd)
		switch {
		case errors.Is(err, store.ErrQuota):
			return quotaError(cmd.Param.Latest.Tier, cmd.Quota)
		case err != nil:
			return err
		}
		out = &ssm.PutParameterOutput{Version: cmd.Param.Latest.Version, Tier: cmd.Param.Latest.Tier}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func quotaError(tier string, quota int64) error {
	if tier == ssm.TierAdvanced {
		return ssm.Errorf(ssm.CodeParameterLimitExceeded, msgAdvancedQuota, quota)
	}
	return ssm.Errorf(ssm.CodeParameterLimitExceeded, msgStandardQuota, quota)
}

// createTags validates the tags given to PutParameter on create.
func (s *Service) createTags(in []ssm.Tag) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	tags := map[string]string{}
	for _, tg := range in {
		if strings.HasPrefix(*tg.Key, "aws:") {
			return nil, ssm.ErrValidation("Tag keys must not start with aws:")
		}
		tags[*tg.Key] = *tg.Value
	}
	if len(tags) > s.limits.MaxTags {
		return nil, ssm.Bare(ssm.CodeTooManyTags)
	}
	return tags, nil
}

// planPut decides the new version against a snapshot (spec §7.1 steps
// 5-15) and returns the compare-and-set command that commits it.
func (s *Service) planPut(r *store.Reader, c Caller, req *putRequest) (*store.Command, error) {
	old, err := r.Param(req.tenancy, req.name.Key())
	if err != nil {
		return nil, err
	}
	ten, err := r.Tenancy(req.tenancy)
	if err != nil {
		return nil, err
	}
	if err := req.authorize(c, old); err != nil {
		return nil, err
	}
	if old == nil && req.in.Type == nil {
		return nil, ssm.ErrValidation(msgTypeRequired)
	}
	if old != nil && !req.overwrite {
		return nil, ssm.NewError(ssm.CodeParameterAlreadyExists, msgAlreadyExists)
	}
	v, err := s.newVersion(req, old, ten)
	if err != nil {
		return nil, err
	}
	v.Modified, v.User = s.nowMillis(), c.UserARN
	if v.Type == ssm.TypeSecureString {
		if err := s.seal(r, c, req, &v); err != nil {
			return nil, err
		}
	}
	return s.putCommand(req, old, v)
}

// authorize checks that the caller may write the parameter, and tag it when
// the request creates it with tags.
func (req *putRequest) authorize(c Caller, old *store.Parameter) error {
	arn := req.name.ARN(c.Tenancy)
	if err := c.authorize("ssm:PutParameter", arn, tagsOf(old)); err != nil {
		return err
	}
	if len(req.tags) > 0 {
		return c.authorize("ssm:AddTagsToResource", arn, tagsOf(old))
	}
	return nil
}

// attributes are those of the new version (spec §7.1.1, step 8): each one
// the request gives, else the previous version's; the value is plaintext.
func (req *putRequest) attributes(old *store.Parameter) store.Version {
	var prev store.Version
	if old != nil {
		prev = old.Latest
	}
	v := store.Version{
		Type:           givenOr(req.in.Type, prev.Type),
		Description:    givenOr(req.in.Description, prev.Description),
		AllowedPattern: givenOr(req.in.AllowedPattern, prev.AllowedPattern),
		DataType:       givenOr(req.in.DataType, prev.DataType),
		Policies:       prev.Policies,
		Value:          req.value,
	}
	if v.DataType == "" {
		v.DataType = ssm.DataTypeText
	}
	return v
}

// givenOr is the member of a request when it is given, else prev.
func givenOr[T any](given *T, prev T) T {
	if given == nil {
		return prev
	}
	return *given
}

// newVersion resolves and checks the attributes of the new version (spec
// §7.1 steps 8-12): data type, tier and size, policies, allowed pattern.
func (s *Service) newVersion(req *putRequest, old *store.Parameter, ten *store.Tenancy) (store.Version, error) {
	v := req.attributes(old)
	if err := checkDataType(&v); err != nil {
		return v, err
	}
	// Policies are parsed before tier resolution (Intelligent-Tiering looks
	// at them) but their errors rank after the tier checks (step 11).
	var policyErr error
	if req.in.Policies != nil {
		v.Policies, policyErr = normalizePolicies(*req.in.Policies)
	}
	tier, err := s.resolveTier(req, old, ten, v.Policies != "")
	if err != nil {
		return v, err
	}
	v.Tier = tier
	if err := s.checkSize(&v); err != nil {
		return v, err
	}
	if policyErr != nil {
		return v, policyErr
	}
	if v.Policies != "" && tier == ssm.TierStandard {
		return v, ssm.ErrValidation(msgPoliciesStandard)
	}
	if v.AllowedPattern != "" {
		if err := checkPattern(&v); err != nil {
			return v, err
		}
	}
	return v, nil
}

// checkDataType checks a version's data type against its type and
// plaintext value (spec §7.1 step 9).
func checkDataType(v *store.Version) error {
	switch v.DataType {
	case ssm.DataTypeText, ssm.DataTypeSSMInteg:
		return nil
	case ssm.DataTypeEC2Image:
		if v.Type != ssm.TypeString {
			return ssm.ErrValidation("The aws:ec2:image data type is not supported for the following input type: " + v.Type)
		}
		if !amiID.MatchString(v.Value) {
			// AWS's wording echoes the value to the caller; the audit
			// trail gets the message without it.
			e := ssm.ErrValidation("Parameter value, " + v.Value + ", is not a valid image ID for data type aws:ec2:image.")
			e.Redacted = "Parameter value, (value not recorded), is not a valid image ID for data type aws:ec2:image."
			return e
		}
		return nil
	default:
		return ssm.ErrValidation("The following data type is not supported: " + v.DataType + " (Data type names are all lowercase.)")
	}
}

// checkSize checks a version's plaintext value against the limit of its
// tier (spec §10.2).
func (s *Service) checkSize(v *store.Version) error {
	n := utf8.RuneCountInString(v.Value)
	if v.Tier == ssm.TierStandard && n > s.limits.StandardValueChars {
		return ssm.Errorf(ssm.CodeValidation, msgStandardTooLarge, s.limits.StandardValueChars)
	}
	if v.Tier == ssm.TierAdvanced && n > s.limits.AdvancedValueChars {
		return ssm.Errorf(ssm.CodeValidation, msgAdvancedTooLarge, s.limits.AdvancedValueChars)
	}
	return nil
}

// seal encrypts the new version's value with the key the request names, or
// the default key (spec §7.1 step 13), bound to the parameter.
func (s *Service) seal(r *store.Reader, c Caller, req *putRequest, v *store.Version) error {
	v.KeyID = ssm.DefaultKeyAlias
	if req.in.KeyId != nil {
		v.KeyID = *req.in.KeyId
	}
	kek, err := s.resolveKeyID(r, c.Tenancy, v.KeyID)
	if err != nil {
		return err
	}
	if err := c.authorize("kms:Encrypt", KeyARN(c.Tenancy, kek.ID()), nil); err != nil {
		return err
	}
	v.Value, err = crypto.Seal(kek, req.value, aad(c.Tenancy.Key(), req.name.Key()))
	if err != nil {
		return ssm.Wrap(err)
	}
	return nil
}

// putCommand builds the compare-and-set command that commits version v
// (spec §7.1 steps 14-15): the versions it prunes, the count quota the store
// checks again at commit.
func (s *Service) putCommand(req *putRequest, old *store.Parameter, v store.Version) (*store.Command, error) {
	p := store.Parameter{Name: req.name.String()}
	cmd := &store.Command{Op: store.OpPut, Tenancy: req.tenancy, Name: req.name.Key(), Param: &p}
	if old == nil {
		v.Version = 1
		p.Versions = []int64{1}
		p.Tags = req.tags
		cmd.Create = true
	} else {
		p.Name = old.Name
		p.Labels = old.Labels
		p.Tags = old.Tags
		v.Version = old.Latest.Version + 1
		// One allocation: the old versions and the new one.
		p.Versions = append(make([]int64, 0, len(old.Versions)+1), old.Versions...)
		for len(p.Versions) >= s.limits.MaxVersions {
			oldest := p.Versions[0]
			if len(old.LabelsOf(oldest)) > 0 {
				return nil, ssm.Errorf(ssm.CodeMaxVersionLimitExceeded, msgMaxVersions, old.Name, oldest)
			}
			cmd.Prune = append(cmd.Prune, oldest)
			p.Versions = p.Versions[1:]
		}
		p.Versions = append(p.Versions, v.Version)
		cmd.Expect = old.ModIndex
	}
	p.Latest = v
	if old == nil || old.Latest.Tier != v.Tier {
		cmd.Quota = s.limits.StandardParameters
		if v.Tier == ssm.TierAdvanced {
			cmd.Quota = s.limits.AdvancedParameters
		}
	}
	return cmd, nil
}

// resolveTier applies spec §10.1 and §10.3.
func (s *Service) resolveTier(req *putRequest, old *store.Parameter, ten *store.Tenancy, policies bool) (string, error) {
	wasAdvanced := old != nil && old.Latest.Tier == ssm.TierAdvanced
	want := ssm.TierStandard
	explicit := req.in.Tier != nil
	if explicit {
		want = *req.in.Tier
	} else if set, ok := ten.Settings[settingDefaultTier]; ok {
		want = set.Value
	}
	switch want {
	case ssm.TierAdvanced:
		return ssm.TierAdvanced, nil
	case ssm.TierIntelligent:
		if wasAdvanced || utf8.RuneCountInString(req.value) > s.limits.StandardValueChars || policies ||
			(old == nil && ten.Standard >= s.limits.StandardParameters) {
			return ssm.TierAdvanced, nil
		}
		return ssm.TierStandard, nil
	default:
		if wasAdvanced {
			if explicit {
				return "", ssm.ErrValidation(msgDowngrade)
			}
			return ssm.TierAdvanced, nil
		}
		return ssm.TierStandard, nil
	}
}

// checkPattern compiles a version's AllowedPattern (Java-like syntax via
// regexp2) and requires its whole plaintext value to match.
func checkPattern(v *store.Version) error {
	re, err := regexp2.Compile(`\A(?:`+v.AllowedPattern+`)\z`, regexp2.None)
	if err != nil {
		return ssm.NewError(ssm.CodeInvalidAllowedPattern, msgBadPattern)
	}
	re.MatchTimeout = 100 * time.Millisecond
	ok, err := re.MatchString(v.Value)
	if err != nil || !ok {
		return ssm.NewError(ssm.CodePatternMismatch, msgPatternMismatch+v.AllowedPattern)
	}
	return nil
}

// aad binds an envelope to its parameter.
func aad(tenancy, key string) []byte {
	return []byte(tenancy + "\x00" + key)
}

// resolveKeyID resolves a KeyId as given by a caller (key id, alias, key ARN
// or alias ARN) to a usable KEK, or InvalidKeyId (spec §9.5).
func (s *Service) resolveKeyID(r *store.Reader, t ssm.Tenancy, keyID string) (*crypto.KEK, error) {
	// The ARN prefix that KMS's messages name: the caller's, or the one of
	// a KMS ARN given.
	prefix := kmsARNPrefix(t)
	local := true
	ref := keyID
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" ||
			!strings.HasPrefix(parts[5], "key/") && !strings.HasPrefix(parts[5], "alias/") {
			return nil, ssm.NewError(ssm.CodeInvalidKeyID, "Invalid keyId "+keyID)
		}
		prefix = strings.Join(parts[:5], ":") + ":"
		local = parts[1] == t.Partition() && parts[3] == t.Region && parts[4] == t.Account
		ref = parts[5]
	}
	alias := strings.HasPrefix(ref, "alias/")
	if !local {
		// Keys of other regions and accounts are not in this keyring.
		if alias {
			return nil, errAliasNotFound(prefix, ref)
		}
		return nil, errKeyNotFound(prefix, strings.TrimPrefix(ref, "key/"))
	}
	if ref == ssm.DefaultKeyAlias {
		return s.defaultKEK(t.Key())
	}
	id := strings.TrimPrefix(ref, "key/")
	if alias {
		id = r.KeyIDByAlias(t.Key(), ref)
		if id == "" {
			return nil, errAliasNotFound(prefix, ref)
		}
	}
	k, err := r.Key(t.Key(), id)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	if k == nil {
		return nil, errKeyNotFound(prefix, id)
	}
	if k.Disabled {
		return nil, errKeyDisabled(t, k.ID)
	}
	kek, err := s.kr.UnwrapKEK(t.Key(), k.ID, k.Wrapped)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	return kek, nil
}

// kmsARNPrefix is "arn:{partition}:kms:{region}:{account}:".
func kmsARNPrefix(t ssm.Tenancy) string {
	return "arn:" + t.Partition() + ":kms:" + t.Region + ":" + t.Account + ":"
}

// The InvalidKeyId answers relay KMS's text, as AWS does (spec §9.5): KMS's
// NotFoundException for an alias and for a key, its DisabledException for a
// disabled key.

func errAliasNotFound(arnPrefix, alias string) *ssm.Error {
	return ssm.NewError(ssm.CodeInvalidKeyID, "Alias "+arnPrefix+alias+" is not found.")
}

func errKeyNotFound(arnPrefix, id string) *ssm.Error {
	return ssm.NewError(ssm.CodeInvalidKeyID, "Key '"+arnPrefix+"key/"+id+"' does not exist")
}

func errKeyDisabled(t ssm.Tenancy, id string) *ssm.Error {
	return ssm.NewError(ssm.CodeInvalidKeyID, KeyARN(t, id)+" is disabled.")
}

func (s *Service) defaultKEK(tenancy string) (*crypto.KEK, error) {
	if k, ok := s.defaultKEKs.Load(tenancy); ok {
		return k.(*crypto.KEK), nil
	}
	k, err := s.kr.DefaultKEK(tenancy)
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	s.defaultKEKs.Store(tenancy, k)
	return k, nil
}

// decrypt opens a stored SecureString value with the key its envelope
// names; a key that is disabled (or gone) is InvalidKeyId.
func (s *Service) decrypt(r *store.Reader, c Caller, key string, v *store.Version) (string, error) {
	t := c.Tenancy
	id, err := crypto.EnvelopeKeyID(v.Value)
	if err != nil {
		return "", ssm.Wrap(fmt.Errorf("service: envelope of %q: %w", key, err))
	}
	if err := c.authorize("kms:Decrypt", KeyARN(t, id), nil); err != nil {
		return "", err
	}
	var kek *crypto.KEK
	if id == crypto.DefaultKeyID {
		kek, err = s.defaultKEK(t.Key())
		if err != nil {
			return "", err
		}
	} else {
		k, err := r.Key(t.Key(), id)
		if err != nil {
			return "", ssm.Wrap(err)
		}
		if k == nil {
			return "", errKeyNotFound(kmsARNPrefix(t), id)
		}
		if k.Disabled {
			return "", errKeyDisabled(t, k.ID)
		}
		kek, err = s.kr.UnwrapKEK(t.Key(), k.ID, k.Wrapped)
		if err != nil {
			return "", ssm.Wrap(err)
		}
	}
	pt, err := crypto.Open(kek, v.Value, aad(t.Key(), key))
	if err != nil {
		return "", ssm.Wrap(fmt.Errorf("service: decrypt %q version %d: %w", key, v.Version, err))
	}
	return pt, nil
}
