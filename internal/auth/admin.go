package auth

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// The admin API (X-Amz-Target: Paramstore.<Operation>): identities, their
// policies and access keys. Every call is authorized like an SSM call, with
// IAM/STS action names (iam:CreateUser, sts:AssumeRole, ...); root may do
// everything.

// IAM-style error codes of the admin API.
const (
	CodeEntityAlreadyExists = "EntityAlreadyExists"
	CodeNoSuchEntity        = "NoSuchEntity"
	CodeMalformedPolicy     = "MalformedPolicyDocument"
)

// Caller is who calls an admin operation.
type Caller interface {
	// Authorize decides an IAM action on a resource ARN.
	Authorize(action, resource string) error
	// Root reports the account root, the only caller that may manage the
	// root's own access keys.
	Root() bool
}

func rootKeyDenied(action string) error {
	return ssm.NewError(ssm.CodeAccessDenied, "Only the root identity may perform "+action+" on the root's access keys.")
}

// AdminRequest is the input of every admin operation; each uses the members
// it needs.
type AdminRequest struct {
	UserName        string `json:"UserName"`
	RoleName        string `json:"RoleName"`
	PolicyName      string `json:"PolicyName"`
	PolicyDocument  string `json:"PolicyDocument"`
	AccessKeyId     string `json:"AccessKeyId"`
	Status          string `json:"Status"`
	DurationSeconds int64  `json:"DurationSeconds"`
}

// PrincipalInfo describes a user or role.
type PrincipalInfo struct {
	Name     string   `json:"Name"`
	Kind     string   `json:"Kind"`
	Arn      string   `json:"Arn"`
	Created  float64  `json:"CreateDate"`
	Policies []string `json:"PolicyNames"`
}

// AccessKeyInfo describes an access key; the secret only appears in the
// response that created it.
type AccessKeyInfo struct {
	AccessKeyId     string  `json:"AccessKeyId"`
	SecretAccessKey string  `json:"SecretAccessKey,omitempty"`
	SessionToken    string  `json:"SessionToken,omitempty"`
	Principal       string  `json:"UserName"`
	Status          string  `json:"Status"`
	Created         float64 `json:"CreateDate"`
	Expiration      float64 `json:"Expiration,omitempty"`
}

func (a *Authenticator) userARN(name string) string {
	return "arn:aws:iam::" + a.account + ":user/" + name
}
func (a *Authenticator) roleARN(name string) string {
	return "arn:aws:iam::" + a.account + ":role/" + name
}

func (a *Authenticator) principalARN(p *store.Principal) string {
	switch p.Kind {
	case store.KindRole:
		return a.roleARN(p.Name)
	case store.KindRoot:
		return "arn:aws:iam::" + a.account + ":root"
	}
	return a.userARN(p.Name)
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	return strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-") == ""
}

func noSuch(kind, name string) error {
	return ssm.NewError(CodeNoSuchEntity, "The "+kind+" with name "+name+" cannot be found.")
}

func (a *Authenticator) createPrincipal(ctx context.Context, kind, name, doc string) (any, error) {
	if !validName(name) || name == RootName {
		return nil, ssm.ErrValidation("The specified name is not valid: use 1-64 letters, digits and +=,.@_- (and not \"root\").")
	}
	p := &store.Principal{Name: name, Kind: kind, Created: a.now().UnixMilli()}
	if doc != "" {
		if _, err := parsePolicy(doc); err != nil {
			return nil, err
		}
		p.Policies = map[string]string{"default": doc}
	}
	err := a.st.Apply(ctx, &store.Command{Op: store.OpPutPrincipal, Create: true, Principal: p})
	if errors.Is(err, store.ErrExists) {
		return nil, ssm.NewError(CodeEntityAlreadyExists, strings.ToUpper(kind[:1])+kind[1:]+" with name "+name+" already exists.")
	}
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	return map[string]any{"Principal": a.info(p)}, nil
}

func (a *Authenticator) info(p *store.Principal) PrincipalInfo {
	return PrincipalInfo{Name: p.Name, Kind: p.Kind, Arn: a.principalARN(p), Created: float64(p.Created) / 1000,
		Policies: slices.Sorted(maps.Keys(p.Policies))}
}

// CreateUser creates a user (UserName) with an optional inline policy (PolicyDocument).
func (a *Authenticator) CreateUser(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	if err := authz.Authorize("iam:CreateUser", a.userARN(in.UserName)); err != nil {
		return nil, err
	}
	return a.createPrincipal(ctx, store.KindUser, in.UserName, in.PolicyDocument)
}

// CreateRole creates a role (RoleName) with an optional inline policy (PolicyDocument).
func (a *Authenticator) CreateRole(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	if err := authz.Authorize("iam:CreateRole", a.roleARN(in.RoleName)); err != nil {
		return nil, err
	}
	return a.createPrincipal(ctx, store.KindRole, in.RoleName, in.PolicyDocument)
}

// target returns the principal named by UserName or RoleName.
func (a *Authenticator) target(ctx context.Context, in *AdminRequest) (*store.Principal, error) {
	name, kind := in.UserName, "user"
	if name == "" {
		name, kind = in.RoleName, "role"
	}
	var p *store.Principal
	err := a.st.View(ctx, func(r *store.Reader) error {
		var err error
		p, err = r.Principal(name)
		return err
	})
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	if p == nil || p.Kind == store.KindRoot {
		return nil, noSuch(kind, name)
	}
	return p, nil
}

// DeleteUser deletes a user or role (UserName or RoleName) and its access keys.
func (a *Authenticator) DeleteUser(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	p, err := a.target(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := authz.Authorize("iam:Delete"+kindAction(p.Kind), a.principalARN(p)); err != nil {
		return nil, err
	}
	err = a.st.Apply(ctx, &store.Command{Op: store.OpDeletePrincipal, Name: p.Name})
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuch(p.Kind, p.Name)
	}
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	return struct{}{}, nil
}

func kindAction(kind string) string {
	if kind == store.KindRole {
		return "Role"
	}
	return "User"
}

// ListUsers lists the users and roles.
func (a *Authenticator) ListUsers(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	if err := authz.Authorize("iam:ListUsers", "arn:aws:iam::"+a.account+":user/*"); err != nil {
		return nil, err
	}
	var ps []store.Principal
	err := a.st.View(ctx, func(r *store.Reader) error {
		var err error
		ps, err = r.Principals()
		return err
	})
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	out := []PrincipalInfo{}
	for i := range ps {
		out = append(out, a.info(&ps[i]))
	}
	return map[string]any{"Principals": out}, nil
}

// PutUserPolicy sets an inline policy (PolicyName, PolicyDocument) of a user or role.
func (a *Authenticator) PutUserPolicy(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	p, err := a.target(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := authz.Authorize("iam:Put"+kindAction(p.Kind)+"Policy", a.principalARN(p)); err != nil {
		return nil, err
	}
	if !validName(in.PolicyName) {
		return nil, ssm.ErrValidation("PolicyName must be 1-64 letters, digits and +=,.@_-.")
	}
	if _, err := parsePolicy(in.PolicyDocument); err != nil {
		return nil, err
	}
	np := *p
	np.Policies = maps.Clone(p.Policies)
	if np.Policies == nil {
		np.Policies = map[string]string{}
	}
	np.Policies[in.PolicyName] = in.PolicyDocument
	if err := a.st.Apply(ctx, &store.Command{Op: store.OpPutPrincipal, Principal: &np}); err != nil {
		return nil, ssm.Wrap(err)
	}
	return struct{}{}, nil
}

// DeleteUserPolicy removes an inline policy of a user or role.
func (a *Authenticator) DeleteUserPolicy(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	p, err := a.target(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := authz.Authorize("iam:Delete"+kindAction(p.Kind)+"Policy", a.principalARN(p)); err != nil {
		return nil, err
	}
	if _, ok := p.Policies[in.PolicyName]; !ok {
		return nil, ssm.NewError(CodeNoSuchEntity, "The policy with name "+in.PolicyName+" cannot be found.")
	}
	np := *p
	np.Policies = maps.Clone(p.Policies)
	delete(np.Policies, in.PolicyName)
	if err := a.st.Apply(ctx, &store.Command{Op: store.OpPutPrincipal, Principal: &np}); err != nil {
		return nil, ssm.Wrap(err)
	}
	return struct{}{}, nil
}

func (a *Authenticator) newKey(ctx context.Context, principal string, temporary bool, expires time.Time) (*AccessKeyInfo, error) {
	id, secret := NewAccessKeyID(temporary), NewSecret()
	wrapped, err := a.kr.Wrap(purposeSecret, id, []byte(secret))
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	ak := &store.AccessKey{ID: id, Principal: principal, SecretWrapped: wrapped, Created: a.now().UnixMilli()}
	info := &AccessKeyInfo{AccessKeyId: id, SecretAccessKey: secret, Principal: principal, Status: "Active",
		Created: float64(ak.Created) / 1000}
	if temporary {
		token := NewSecret() + NewSecret()
		if ak.TokenWrapped, err = a.kr.Wrap(purposeToken, id, []byte(token)); err != nil {
			return nil, ssm.Wrap(err)
		}
		ak.Expires = expires.UnixMilli()
		info.SessionToken, info.Expiration = token, float64(ak.Expires)/1000
	}
	err = a.st.Apply(ctx, &store.Command{Op: store.OpPutAccessKey, Create: true, AccessKey: ak})
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuch("user", principal)
	}
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	return info, nil
}

// CreateAccessKey creates an access key; its secret is only in this response.
func (a *Authenticator) CreateAccessKey(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	p, err := a.target(ctx, &AdminRequest{UserName: in.UserName})
	if err != nil {
		return nil, err
	}
	if p.Kind != store.KindUser {
		return nil, noSuch("user", in.UserName)
	}
	if err := authz.Authorize("iam:CreateAccessKey", a.userARN(p.Name)); err != nil {
		return nil, err
	}
	info, err := a.newKey(ctx, p.Name, false, time.Time{})
	if err != nil {
		return nil, err
	}
	return map[string]any{"AccessKey": info}, nil
}

func (a *Authenticator) accessKey(ctx context.Context, keyID string) (*store.AccessKey, *store.Principal, error) {
	var ak *store.AccessKey
	var p *store.Principal
	err := a.st.View(ctx, func(r *store.Reader) error {
		var err error
		if ak, err = r.AccessKey(keyID); err != nil || ak == nil {
			return err
		}
		p, err = r.Principal(ak.Principal)
		return err
	})
	if err != nil {
		return nil, nil, ssm.Wrap(err)
	}
	if ak == nil || p == nil {
		return nil, nil, ssm.NewError(CodeNoSuchEntity, "The Access Key with id "+keyID+" cannot be found.")
	}
	return ak, p, nil
}

// UpdateAccessKey sets an access key's Status (Active or Inactive).
func (a *Authenticator) UpdateAccessKey(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	ak, p, err := a.accessKey(ctx, in.AccessKeyId)
	if err != nil {
		return nil, err
	}
	if p.Kind == store.KindRoot && !authz.Root() {
		return nil, rootKeyDenied("iam:UpdateAccessKey")
	}
	if err := authz.Authorize("iam:UpdateAccessKey", a.principalARN(p)); err != nil {
		return nil, err
	}
	switch in.Status {
	case "Active":
		ak.Disabled = false
	case "Inactive":
		ak.Disabled = true
	default:
		return nil, ssm.ErrValidation("Status must be Active or Inactive.")
	}
	if err := a.st.Apply(ctx, &store.Command{Op: store.OpPutAccessKey, AccessKey: ak}); err != nil {
		return nil, ssm.Wrap(err)
	}
	return struct{}{}, nil
}

// DeleteAccessKey deletes an access key.
func (a *Authenticator) DeleteAccessKey(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	_, p, err := a.accessKey(ctx, in.AccessKeyId)
	if err != nil {
		return nil, err
	}
	if p.Kind == store.KindRoot && !authz.Root() {
		return nil, rootKeyDenied("iam:DeleteAccessKey")
	}
	if err := authz.Authorize("iam:DeleteAccessKey", a.principalARN(p)); err != nil {
		return nil, err
	}
	if err := a.st.Apply(ctx, &store.Command{Op: store.OpDeleteAccessKey, Name: in.AccessKeyId}); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, ssm.Wrap(err)
	}
	return struct{}{}, nil
}

// ListAccessKeys lists the access keys of a user or role, without their secrets.
func (a *Authenticator) ListAccessKeys(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	resource := "arn:aws:iam::" + a.account + ":user/*"
	if in.UserName != "" {
		resource = a.userARN(in.UserName)
	}
	if err := authz.Authorize("iam:ListAccessKeys", resource); err != nil {
		return nil, err
	}
	var keys []store.AccessKey
	err := a.st.View(ctx, func(r *store.Reader) error {
		var err error
		keys, err = r.AccessKeys(in.UserName)
		return err
	})
	if err != nil {
		return nil, ssm.Wrap(err)
	}
	out := []AccessKeyInfo{}
	for _, k := range keys {
		st := "Active"
		if k.Disabled {
			st = "Inactive"
		}
		out = append(out, AccessKeyInfo{AccessKeyId: k.ID, Principal: k.Principal, Status: st,
			Created: float64(k.Created) / 1000, Expiration: float64(k.Expires) / 1000})
	}
	return map[string]any{"AccessKeyMetadata": out}, nil
}

// MaxSessionDuration bounds AssumeRole credentials.
const MaxSessionDuration = 12 * time.Hour

// AssumeRole issues temporary credentials of a role for DurationSeconds
// (default an hour).
func (a *Authenticator) AssumeRole(ctx context.Context, authz Caller, in *AdminRequest) (any, error) {
	p, err := a.target(ctx, &AdminRequest{RoleName: in.RoleName})
	if err != nil {
		return nil, err
	}
	if p.Kind != store.KindRole {
		return nil, noSuch("role", in.RoleName)
	}
	if err := authz.Authorize("sts:AssumeRole", a.roleARN(p.Name)); err != nil {
		return nil, err
	}
	d := time.Hour
	if in.DurationSeconds != 0 {
		d = time.Duration(in.DurationSeconds) * time.Second
	}
	if d < 15*time.Minute || d > MaxSessionDuration {
		return nil, ssm.ErrValidation("DurationSeconds must be between 900 and 43200.")
	}
	info, err := a.newKey(ctx, p.Name, true, a.now().Add(d))
	if err != nil {
		return nil, err
	}
	return map[string]any{"Credentials": info}, nil
}
