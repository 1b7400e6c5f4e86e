package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// The IAM policy matrix: users with one inline policy each, created through
// the admin API signed by root, call Parameter Store through the SDK; each
// call must be allowed, or refused with AWS's AccessDeniedException text.

const (
	paramARN   = "arn:aws:ssm:us-east-1:123456789012:parameter"
	accountARN = "arn:aws:ssm:us-east-1:123456789012:*"
	keyARN     = "arn:aws:kms:us-east-1:123456789012:key/aws/ssm"
	secretText = "s3cret-value"
)

// userPlaceholder stands for the caller's ARN in expected messages.
const userPlaceholder = "{user}"

// deniedMsg is AWS's message for an implicit deny.
func deniedMsg(action, resource string) string {
	return "User: " + userPlaceholder + " is not authorized to perform: " + action + " on resource: " + resource +
		" because no identity-based policy allows the " + action + " action"
}

// explicitMsg is AWS's message for an explicit deny.
func explicitMsg(action, resource string) string {
	return "User: " + userPlaceholder + " is not authorized to perform: " + action + " on resource: " + resource +
		" with an explicit deny in an identity-based policy"
}

// policyDoc builds a policy document from statements.
func policyDoc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// stmt builds one statement; action and resource are JSON values.
func stmt(effect, actionKey, action, resource, condition string) string {
	s := `{"Effect":"` + effect + `","` + actionKey + `":` + action + `,"Resource":` + resource
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + "}"
}

func allow(action, resource string) string { return stmt("Allow", "Action", action, resource, "") }
func deny(action, resource string) string  { return stmt("Deny", "Action", action, resource, "") }
func q(s string) string                    { return strconv.Quote(s) }

// actor is one user: its SDK client and credentials.
type actor struct {
	e *authEnv
	c *ssm.Client
}

var bg = context.Background()

func (a actor) get(name string, decrypt bool) (*types.Parameter, error) {
	out, err := a.c.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt)})
	if err != nil {
		return nil, err
	}
	return out.Parameter, nil
}

func (a actor) put(name string, typ types.ParameterType, tags ...types.Tag) error {
	_, err := a.c.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(secretText), Type: typ, Tags: tags})
	return err
}

// rootHas reports whether root sees the parameter.
func (a actor) rootHas(name string) (bool, error) {
	_, err := a.e.rootC.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String(name)})
	if errorsAs(err, new(*types.ParameterNotFound)) {
		return false, nil
	}
	return err == nil, err
}

// adminCall calls an admin operation signed with the actor's credentials;
// a refusal is returned as a smithy.APIError, like the SDK's.
func (a actor) adminCall(creds aws.Credentials, op string, in any) error {
	res := a.e.admin(creds, op, in)
	if res.status == http.StatusOK {
		return nil
	}
	return &smithy.GenericAPIError{Code: res.code, Message: res.msg}
}

// pcall is one call of a policy case: nil error or code/msg expected.
type pcall struct {
	name string
	do   func(a actor) error
	code string
	msg  string // may contain userPlaceholder
}

// getCall reads a parameter; success also requires the plaintext when
// decrypting a SecureString, and the ciphertext when not.
func getCall(name string, decrypt bool, code, msg string) pcall {
	return pcall{name: fmt.Sprintf("GetParameter %s decrypt=%v", name, decrypt), code: code, msg: msg,
		do: func(a actor) error {
			p, err := a.get(name, decrypt)
			if err != nil {
				return err
			}
			if p.Type == types.ParameterTypeSecureString && (aws.ToString(p.Value) == secretText) != decrypt {
				return fmt.Errorf("got value %q with decrypt=%v", aws.ToString(p.Value), decrypt)
			}
			return nil
		}}
}

func putCall(name string, typ types.ParameterType, code, msg string, tags ...types.Tag) pcall {
	return pcall{name: fmt.Sprintf("PutParameter %s %s tags=%d", name, typ, len(tags)), code: code, msg: msg,
		do: func(a actor) error {
			err := a.put(name, typ, tags...)
			// Refused writes leave nothing behind.
			if exists, rerr := a.rootHas(name); rerr != nil || exists != (err == nil) {
				return fmt.Errorf("PutParameter %s returned %v, but root sees it: %v (%v)", name, err, exists, rerr)
			}
			return err
		}}
}

func byPathCall(path string, decrypt bool, code, msg string, want ...string) pcall {
	return pcall{name: fmt.Sprintf("GetParametersByPath %s decrypt=%v", path, decrypt), code: code, msg: msg,
		do: func(a actor) error {
			out, err := a.c.GetParametersByPath(bg, &ssm.GetParametersByPathInput{Path: aws.String(path), WithDecryption: aws.Bool(decrypt)})
			if err != nil {
				return err
			}
			if d := mismatch(want, names(out.Parameters)); d != "" {
				return fmt.Errorf("names: %s", d)
			}
			return nil
		}}
}

func describeCall(code, msg string) pcall {
	return pcall{name: "DescribeParameters", code: code, msg: msg, do: func(a actor) error {
		_, err := a.c.DescribeParameters(bg, &ssm.DescribeParametersInput{})
		return err
	}}
}

// getParamsCall calls GetParameters; on success the found and invalid
// names must be as given.
func getParamsCall(in []string, decrypt bool, found, invalid []string, code, msg string) pcall {
	return pcall{name: fmt.Sprintf("GetParameters %v decrypt=%v", in, decrypt), code: code, msg: msg,
		do: func(a actor) error {
			out, err := a.c.GetParameters(bg, &ssm.GetParametersInput{Names: in, WithDecryption: aws.Bool(decrypt)})
			if err != nil {
				return err
			}
			if d := mismatch(found, names(out.Parameters)); d != "" {
				return fmt.Errorf("parameters: %s", d)
			}
			if d := mismatch(invalid, out.InvalidParameters); d != "" {
				return fmt.Errorf("invalid parameters: %s", d)
			}
			return nil
		}}
}

func historyCall(name string, decrypt bool, code, msg string) pcall {
	return pcall{name: fmt.Sprintf("GetParameterHistory %s decrypt=%v", name, decrypt), code: code, msg: msg,
		do: func(a actor) error {
			_, err := a.c.GetParameterHistory(bg, &ssm.GetParameterHistoryInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt)})
			return err
		}}
}

func deleteCall(name, code, msg string) pcall {
	return pcall{name: "DeleteParameter " + name, code: code, msg: msg, do: func(a actor) error {
		_, err := a.c.DeleteParameter(bg, &ssm.DeleteParameterInput{Name: aws.String(name)})
		return err
	}}
}

func adminCallAs(op string, in map[string]any, code, msg string) pcall {
	return pcall{name: "admin " + op, code: code, msg: msg, do: func(a actor) error {
		return a.adminCall(a.creds(), op, in)
	}}
}

// creds returns the credentials the actor's client signs with.
func (a actor) creds() aws.Credentials {
	c, err := a.c.Options().Credentials.Retrieve(bg)
	if err != nil {
		a.e.t.Fatal(err)
	}
	return c
}

func TestPolicyMatrix(t *testing.T) {
	e := newAuthEnv(t)
	root := actor{e: e, c: e.rootC}
	for _, n := range []string{"/app/dev/db", "/app/prod/db", "/app/devx/db"} {
		if err := root.put(n, types.ParameterTypeString); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []string{"dev", "prod"} {
		if err := root.put("/tagged/"+env, types.ParameterTypeString, types.Tag{Key: aws.String("env"), Value: aws.String(env)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.put("/secure/s", types.ParameterTypeSecureString); err != nil {
		t.Fatal(err)
	}

	devOnly := q("arn:aws:ssm:*:*:parameter/app/dev/*")
	tagEnv := func(op, key, value string) string { return `{"` + op + `":{"` + key + `":"` + value + `"}}` }
	sourceIP := func(op, cidr string) string { return `{"` + op + `":{"aws:SourceIp":"` + cidr + `"}}` }

	cases := []struct {
		name   string
		policy string
		calls  []pcall
	}{
		{
			name:   "allow by action",
			policy: policyDoc(allow(q("ssm:GetParameter"), q("*"))),
			calls: []pcall{
				getCall("/app/prod/db", false, "", ""),
				putCall("/app/dev/new1", types.ParameterTypeString, "AccessDeniedException", deniedMsg("ssm:PutParameter", paramARN+"/app/dev/new1")),
				deleteCall("/app/dev/db", "AccessDeniedException", deniedMsg("ssm:DeleteParameter", paramARN+"/app/dev/db")),
				getParamsCall([]string{"/app/dev/db"}, false, nil, nil, "AccessDeniedException", deniedMsg("ssm:GetParameters", paramARN+"/app/dev/db")),
			},
		},
		{
			name:   "action wildcard and case",
			policy: policyDoc(allow(`["SSM:get*"]`, q("*"))),
			calls: []pcall{
				getCall("/app/dev/db", false, "", ""),
				getParamsCall([]string{"/app/dev/db"}, false, []string{"/app/dev/db"}, []string{}, "", ""),
				describeCall("AccessDeniedException", deniedMsg("ssm:DescribeParameters", accountARN)),
			},
		},
		{
			name:   "path wildcard",
			policy: policyDoc(allow(`["ssm:GetParameter","ssm:PutParameter"]`, devOnly)),
			calls: []pcall{
				getCall("/app/dev/db", false, "", ""),
				putCall("/app/dev/new2", types.ParameterTypeString, "", ""),
				getCall("/app/prod/db", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/app/prod/db")),
				putCall("/app/prod/new2", types.ParameterTypeString, "AccessDeniedException", deniedMsg("ssm:PutParameter", paramARN+"/app/prod/new2")),
				getCall("/app/devx/db", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/app/devx/db")),
			},
		},
		{
			name:   "explicit deny wins over allow",
			policy: policyDoc(allow(q("ssm:*"), q("*")), deny(q("ssm:GetParameter"), q(paramARN+"/app/prod/*"))),
			calls: []pcall{
				getCall("/app/dev/db", false, "", ""),
				getCall("/app/prod/db", false, "AccessDeniedException", explicitMsg("ssm:GetParameter", paramARN+"/app/prod/db")),
				// The deny names one action only.
				getParamsCall([]string{"/app/prod/db"}, false, []string{"/app/prod/db"}, []string{}, "", ""),
			},
		},
		{
			name:   "NotAction in an allow",
			policy: policyDoc(stmt("Allow", "NotAction", `["ssm:PutParameter","ssm:Delete*"]`, q("*"), "")),
			calls: []pcall{
				getCall("/app/dev/db", false, "", ""),
				describeCall("", ""),
				putCall("/app/dev/new3", types.ParameterTypeString, "AccessDeniedException", deniedMsg("ssm:PutParameter", paramARN+"/app/dev/new3")),
				deleteCall("/app/dev/db", "AccessDeniedException", deniedMsg("ssm:DeleteParameter", paramARN+"/app/dev/db")),
			},
		},
		{
			name:   "NotAction in a deny",
			policy: policyDoc(allow(q("ssm:*"), q("*")), stmt("Deny", "NotAction", q("ssm:Get*"), q("*"), "")),
			calls: []pcall{
				getCall("/app/dev/db", false, "", ""),
				putCall("/app/dev/new4", types.ParameterTypeString, "AccessDeniedException", explicitMsg("ssm:PutParameter", paramARN+"/app/dev/new4")),
				describeCall("AccessDeniedException", explicitMsg("ssm:DescribeParameters", accountARN)),
			},
		},
		{
			name:   "ssm:ResourceTag condition",
			policy: policyDoc(stmt("Allow", "Action", q("ssm:GetParameter"), q("*"), tagEnv("StringEquals", "ssm:ResourceTag/env", "dev"))),
			calls: []pcall{
				getCall("/tagged/dev", false, "", ""),
				getCall("/tagged/prod", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/tagged/prod")),
				getCall("/app/dev/db", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/app/dev/db")),
			},
		},
		{
			name: "aws:ResourceTag condition in a deny",
			policy: policyDoc(allow(q("ssm:*"), q("*")),
				stmt("Deny", "Action", q("ssm:*"), q("*"), tagEnv("StringEquals", "aws:ResourceTag/env", "prod"))),
			calls: []pcall{
				getCall("/tagged/dev", false, "", ""),
				getCall("/tagged/prod", false, "AccessDeniedException", explicitMsg("ssm:GetParameter", paramARN+"/tagged/prod")),
				{name: "overwrite /tagged/prod", code: "AccessDeniedException", msg: explicitMsg("ssm:PutParameter", paramARN+"/tagged/prod"),
					do: func(a actor) error {
						_, err := a.c.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String("/tagged/prod"), Value: aws.String("x"), Overwrite: aws.Bool(true)})
						return err
					}},
				deleteCall("/tagged/prod", "AccessDeniedException", explicitMsg("ssm:DeleteParameter", paramARN+"/tagged/prod")),
			},
		},
		{
			name:   "GetParametersByPath needs the path resource",
			policy: policyDoc(allow(q("ssm:GetParametersByPath"), q(paramARN+"/app/dev"))),
			calls: []pcall{
				byPathCall("/app/dev", false, "", "", "/app/dev/db", "/app/dev/new2"),
				byPathCall("/app/prod", false, "AccessDeniedException", deniedMsg("ssm:GetParametersByPath", paramARN+"/app/prod")),
				byPathCall("/app", false, "AccessDeniedException", deniedMsg("ssm:GetParametersByPath", paramARN+"/app")),
			},
		},
		{
			name:   "GetParametersByPath is not allowed by the children's resource",
			policy: policyDoc(allow(`["ssm:GetParametersByPath","ssm:GetParameter"]`, devOnly)),
			calls: []pcall{
				getCall("/app/dev/db", false, "", ""),
				byPathCall("/app/dev", false, "AccessDeniedException", deniedMsg("ssm:GetParametersByPath", paramARN+"/app/dev")),
			},
		},
		{
			name:   "DescribeParameters on the account resource",
			policy: policyDoc(allow(q("ssm:DescribeParameters"), q(accountARN))),
			calls:  []pcall{describeCall("", "")},
		},
		{
			name:   "DescribeParameters on *",
			policy: policyDoc(allow(q("ssm:DescribeParameters"), q("*"))),
			calls:  []pcall{describeCall("", "")},
		},
		{
			name:   "DescribeParameters is not allowed by parameter resources",
			policy: policyDoc(allow(q("ssm:DescribeParameters"), `["`+paramARN+`/*","arn:aws:ssm:eu-west-1:123456789012:*"]`)),
			calls:  []pcall{describeCall("AccessDeniedException", deniedMsg("ssm:DescribeParameters", accountARN))},
		},
		{
			name:   "reading SecureStrings decrypted needs kms:Decrypt",
			policy: policyDoc(allow(`["ssm:GetParameter*"]`, q("*"))),
			calls: []pcall{
				getCall("/secure/s", false, "", ""),
				getCall("/app/dev/db", true, "", ""), // no key is used for a String
				getCall("/secure/s", true, "AccessDeniedException", deniedMsg("kms:Decrypt", keyARN)),
				getParamsCall([]string{"/secure/s"}, true, nil, nil, "AccessDeniedException", deniedMsg("kms:Decrypt", keyARN)),
				getParamsCall([]string{"/secure/s"}, false, []string{"/secure/s"}, []string{}, "", ""),
				byPathCall("/secure", true, "AccessDeniedException", deniedMsg("kms:Decrypt", keyARN)),
				byPathCall("/secure", false, "", "", "/secure/s"),
				historyCall("/secure/s", true, "AccessDeniedException", deniedMsg("kms:Decrypt", keyARN)),
				historyCall("/secure/s", false, "", ""),
			},
		},
		{
			name:   "kms:Decrypt on the default key",
			policy: policyDoc(allow(q("ssm:GetParameter"), q("*")), allow(q("kms:Decrypt"), q(keyARN))),
			calls:  []pcall{getCall("/secure/s", true, "", "")},
		},
		{
			name:   "kms:Decrypt denied explicitly",
			policy: policyDoc(allow(`["ssm:GetParameter","kms:*"]`, q("*")), deny(q("kms:Decrypt"), q("arn:aws:kms:*:*:key/*"))),
			calls: []pcall{
				getCall("/secure/s", false, "", ""),
				getCall("/secure/s", true, "AccessDeniedException", explicitMsg("kms:Decrypt", keyARN)),
			},
		},
		{
			name:   "writing a SecureString needs kms:Encrypt",
			policy: policyDoc(allow(q("ssm:PutParameter"), q("*"))),
			calls: []pcall{
				putCall("/secure/plain", types.ParameterTypeString, "", ""),
				putCall("/secure/new1", types.ParameterTypeSecureString, "AccessDeniedException", deniedMsg("kms:Encrypt", keyARN)),
			},
		},
		{
			name:   "kms:Encrypt on the default key",
			policy: policyDoc(allow(`["ssm:PutParameter","ssm:GetParameter"]`, q("*")), allow(q("kms:Encrypt"), q("arn:aws:kms:*:*:key/*"))),
			calls: []pcall{
				putCall("/secure/new2", types.ParameterTypeSecureString, "", ""),
				// Encrypt does not imply Decrypt.
				getCall("/secure/new2", false, "", ""),
				getCall("/secure/new2", true, "AccessDeniedException", deniedMsg("kms:Decrypt", keyARN)),
			},
		},
		{
			name:   "PutParameter with tags needs ssm:AddTagsToResource",
			policy: policyDoc(allow(q("ssm:PutParameter"), q("*"))),
			calls: []pcall{
				putCall("/app/dev/tagged1", types.ParameterTypeString, "AccessDeniedException",
					deniedMsg("ssm:AddTagsToResource", paramARN+"/app/dev/tagged1"), types.Tag{Key: aws.String("k"), Value: aws.String("v")}),
			},
		},
		{
			name:   "PutParameter with tags and ssm:AddTagsToResource",
			policy: policyDoc(allow(`["ssm:PutParameter","ssm:AddTagsToResource"]`, q("*"))),
			calls: []pcall{
				putCall("/app/dev/tagged2", types.ParameterTypeString, "", "", types.Tag{Key: aws.String("k"), Value: aws.String("v")}),
			},
		},
		{
			name:   "GetParameters with one forbidden name fails whole",
			policy: policyDoc(allow(q("ssm:GetParameters"), devOnly)),
			calls: []pcall{
				getParamsCall([]string{"/app/dev/db", "/app/prod/db"}, false, nil, nil, "AccessDeniedException", deniedMsg("ssm:GetParameters", paramARN+"/app/prod/db")),
				getParamsCall([]string{"/app/dev/db", "/app/dev/missing"}, false, []string{"/app/dev/db"}, []string{"/app/dev/missing"}, "", ""),
				getParamsCall([]string{"/app/dev/db", "/app/prod/missing"}, false, nil, nil, "AccessDeniedException", deniedMsg("ssm:GetParameters", paramARN+"/app/prod/missing")),
			},
		},
		{
			name:   "not found only where allowed",
			policy: policyDoc(allow(`["ssm:GetParameter","ssm:GetParameterHistory","ssm:DeleteParameter"]`, devOnly)),
			calls: []pcall{
				getCall("/app/dev/missing", false, "ParameterNotFound", ""),
				getCall("/app/prod/missing", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/app/prod/missing")),
				historyCall("/app/dev/missing", false, "ParameterNotFound", ""),
				historyCall("/app/prod/missing", false, "AccessDeniedException", deniedMsg("ssm:GetParameterHistory", paramARN+"/app/prod/missing")),
				deleteCall("/app/dev/missing", "ParameterNotFound", ""),
				deleteCall("/app/prod/missing", "AccessDeniedException", deniedMsg("ssm:DeleteParameter", paramARN+"/app/prod/missing")),
			},
		},
		{
			name:   "DeleteParameters with one forbidden name deletes nothing",
			policy: policyDoc(allow(`["ssm:DeleteParameters","ssm:PutParameter"]`, devOnly)),
			calls: []pcall{
				putCall("/app/dev/doomed", types.ParameterTypeString, "", ""),
				{name: "DeleteParameters dev and prod", code: "AccessDeniedException", msg: deniedMsg("ssm:DeleteParameters", paramARN+"/app/prod/db"),
					do: func(a actor) error {
						_, err := a.c.DeleteParameters(bg, &ssm.DeleteParametersInput{Names: []string{"/app/dev/doomed", "/app/prod/db"}})
						if exists, rerr := a.rootHas("/app/dev/doomed"); rerr != nil || !exists {
							return fmt.Errorf("refused DeleteParameters deleted /app/dev/doomed (exists=%v, %v)", exists, rerr)
						}
						return err
					}},
			},
		},
		{
			name:   "aws:SourceIp in range",
			policy: policyDoc(stmt("Allow", "Action", q("ssm:GetParameter"), q("*"), sourceIP("IpAddress", "127.0.0.0/8"))),
			calls:  []pcall{getCall("/app/dev/db", false, "", "")},
		},
		{
			name:   "aws:SourceIp out of range",
			policy: policyDoc(stmt("Allow", "Action", q("ssm:GetParameter"), q("*"), sourceIP("IpAddress", "10.0.0.0/8"))),
			calls:  []pcall{getCall("/app/dev/db", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/app/dev/db"))},
		},
		{
			name: "aws:SourceIp deny outside a range",
			policy: policyDoc(allow(q("ssm:GetParameter"), q("*")),
				stmt("Deny", "Action", q("*"), q("*"), sourceIP("NotIpAddress", "10.0.0.0/8"))),
			calls: []pcall{getCall("/app/dev/db", false, "AccessDeniedException", explicitMsg("ssm:GetParameter", paramARN+"/app/dev/db"))},
		},
		{
			name:   "admin operations need iam actions",
			policy: policyDoc(allow(q("ssm:*"), q("*"))),
			calls: []pcall{
				adminCallAs("CreateUser", map[string]any{"UserName": "mallory"}, "AccessDeniedException",
					deniedMsg("iam:CreateUser", "arn:aws:iam::123456789012:user/mallory")),
				adminCallAs("ListUsers", map[string]any{}, "AccessDeniedException",
					deniedMsg("iam:ListUsers", "arn:aws:iam::123456789012:user/*")),
				adminCallAs("AssumeRole", map[string]any{"RoleName": "ops"}, "AccessDeniedException",
					deniedMsg("sts:AssumeRole", "arn:aws:iam::123456789012:role/ops")),
			},
		},
		{
			name:   "admin operations with iam:*",
			policy: policyDoc(allow(q("iam:*"), q("*"))),
			calls: []pcall{
				adminCallAs("CreateUser", map[string]any{"UserName": "trent"}, "", ""),
				adminCallAs("ListUsers", map[string]any{}, "", ""),
				// iam:* does not reach Parameter Store.
				getCall("/app/dev/db", false, "AccessDeniedException", deniedMsg("ssm:GetParameter", paramARN+"/app/dev/db")),
			},
		},
	}

	// Root may do everything, including what the users above may not.
	e.rootAdmin("CreateRole", map[string]string{"RoleName": "ops"}, nil)
	for _, c := range []pcall{
		adminCallAs("CreateUser", map[string]any{"UserName": "rootmade"}, "", ""),
		adminCallAs("AssumeRole", map[string]any{"RoleName": "ops"}, "", ""),
		getCall("/secure/s", true, "", ""),
		describeCall("", ""),
	} {
		if err := c.do(root); err != nil {
			t.Errorf("root %s: got %v, want success", c.name, err)
		}
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user := fmt.Sprintf("policy-user-%02d", i)
			creds := e.newUser(user, tc.policy)
			a := actor{e: e, c: e.client(creds)}
			userARN := "arn:aws:iam::123456789012:user/" + user
			for _, c := range tc.calls {
				t.Run(c.name, func(t *testing.T) {
					err := c.do(a)
					if c.code == "" {
						if err != nil {
							t.Fatalf("got %v, want success", err)
						}
						return
					}
					wantAPIError(t, err, c.code, strings.ReplaceAll(c.msg, userPlaceholder, userARN))
				})
			}
		})
	}
}
