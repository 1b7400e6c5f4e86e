package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type principalInfo struct {
	Name        string   `json:"Name"`
	Kind        string   `json:"Kind"`
	Arn         string   `json:"Arn"`
	PolicyNames []string `json:"PolicyNames"`
}

type accessKeyInfo struct {
	AccessKeyID     string  `json:"AccessKeyId"`
	SecretAccessKey string  `json:"SecretAccessKey"`
	SessionToken    string  `json:"SessionToken"`
	UserName        string  `json:"UserName"`
	Status          string  `json:"Status"`
	Expiration      float64 `json:"Expiration"`
}

func readPolicyFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--policy-file: %w", err)
	}
	return string(raw), nil
}

func newAuthCmd(stdout io.Writer) *cobra.Command {
	a := &authCLI{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Manage users, roles, policies and access keys of a running server",
		Long: `Manage the identities of a running server through its authenticated admin API.
Sign with the root credentials the server wrote on first start, e.g.
  paramstore auth --credentials-file paramstore-data/root-credentials list`,
	}
	a.flags.register(cmd.PersistentFlags(), "")
	cmd.AddCommand(
		a.principal("create-user", "CreateUser", "UserName", "Create a user"),
		a.principal("create-role", "CreateRole", "RoleName", "Create a role (use it with assume-role)"),
		a.putPolicy(), a.deletePolicy(), a.deleteUser(), a.list(),
		a.createKey(), a.listKeys(), a.setStatus("disable-access-key", "Inactive"), a.setStatus("enable-access-key", "Active"), a.deleteKey(),
		a.assumeRole(),
	)
	return cmd
}

// authCLI holds what the auth subcommands share: the admin connection
// flags of the parent command and the output.
type authCLI struct {
	flags  connFlags
	stdout io.Writer
}

// call signs and sends one admin operation.
func (a *authCLI) call(cmd *cobra.Command, op string, in, out any) error {
	c, err := a.flags.admin(cmd.Context())
	if err != nil {
		return err
	}
	return c.call(cmd.Context(), op, in, out)
}

// principal is create-user or create-role.
func (a *authCLI) principal(use, op, nameKey, short string) *cobra.Command {
	var policyFile string
	c := &cobra.Command{
		Use:   use + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readPolicyFile(policyFile)
			if err != nil {
				return err
			}
			var out struct{ Principal principalInfo }
			if err := a.call(cmd, op, map[string]string{nameKey: args[0], "PolicyDocument": doc}, &out); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, out.Principal.Arn)
			return nil
		},
	}
	c.Flags().StringVar(&policyFile, "policy-file", "", "IAM policy document (JSON) attached as policy \"default\"")
	return c
}

func (a *authCLI) putPolicy() *cobra.Command {
	var policyFile string
	c := &cobra.Command{
		Use:   "put-policy PRINCIPAL POLICY-NAME --policy-file FILE",
		Short: "Attach (or replace) an inline policy of a user or role",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readPolicyFile(policyFile)
			if err != nil {
				return err
			}
			if doc == "" {
				return fmt.Errorf("--policy-file is required")
			}
			return a.call(cmd, "PutUserPolicy", map[string]string{"UserName": args[0], "PolicyName": args[1], "PolicyDocument": doc}, nil)
		},
	}
	c.Flags().StringVar(&policyFile, "policy-file", "", "IAM policy document (JSON)")
	return c
}

func (a *authCLI) deletePolicy() *cobra.Command {
	return &cobra.Command{
		Use:   "delete-policy PRINCIPAL POLICY-NAME",
		Short: "Remove an inline policy",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd, "DeleteUserPolicy", map[string]string{"UserName": args[0], "PolicyName": args[1]}, nil)
		},
	}
}

func (a *authCLI) deleteUser() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user or role and its access keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd, "DeleteUser", map[string]string{"UserName": args[0]}, nil)
		},
	}
}

func (a *authCLI) list() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users and roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct{ Principals []principalInfo }
			if err := a.call(cmd, "ListUsers", struct{}{}, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tPOLICIES\tARN")
			for _, p := range out.Principals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Kind, strings.Join(p.PolicyNames, ","), p.Arn)
			}
			return tw.Flush()
		},
	}
}

func (a *authCLI) createKey() *cobra.Command {
	var profileName string
	c := &cobra.Command{
		Use:   "create-access-key USER",
		Short: "Create an access key; prints it in the AWS shared-credentials format (the secret is shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct{ AccessKey accessKeyInfo }
			if err := a.call(cmd, "CreateAccessKey", map[string]string{"UserName": args[0]}, &out); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profileName, out.AccessKey.AccessKeyID, out.AccessKey.SecretAccessKey)
			return nil
		},
	}
	c.Flags().StringVar(&profileName, "profile-name", "default", "profile name to print")
	return c
}

func (a *authCLI) listKeys() *cobra.Command {
	return &cobra.Command{
		Use:   "list-access-keys [USER]",
		Short: "List access keys",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := map[string]string{}
			if len(args) == 1 {
				in["UserName"] = args[0]
			}
			var out struct{ AccessKeyMetadata []accessKeyInfo }
			if err := a.call(cmd, "ListAccessKeys", in, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ACCESS KEY ID\tPRINCIPAL\tSTATUS\tEXPIRES")
			for _, k := range out.AccessKeyMetadata {
				exp := "-"
				if k.Expiration > 0 {
					exp = time.Unix(int64(k.Expiration), 0).UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.AccessKeyID, k.UserName, k.Status, exp)
			}
			return tw.Flush()
		},
	}
}

func (a *authCLI) setStatus(use, status string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " ACCESS-KEY-ID",
		Short: "Set an access key " + strings.ToLower(status),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd, "UpdateAccessKey", map[string]string{"AccessKeyId": args[0], "Status": status}, nil)
		},
	}
}

func (a *authCLI) deleteKey() *cobra.Command {
	return &cobra.Command{
		Use:   "delete-access-key ACCESS-KEY-ID",
		Short: "Delete an access key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd, "DeleteAccessKey", map[string]string{"AccessKeyId": args[0]}, nil)
		},
	}
}

func (a *authCLI) assumeRole() *cobra.Command {
	var duration time.Duration
	c := &cobra.Command{
		Use:   "assume-role ROLE",
		Short: "Get temporary credentials of a role; prints the environment variables to use them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct{ Credentials accessKeyInfo }
			in := map[string]any{"RoleName": args[0], "DurationSeconds": int64(duration / time.Second)}
			if err := a.call(cmd, "AssumeRole", in, &out); err != nil {
				return err
			}
			c := out.Credentials
			fmt.Fprintf(a.stdout, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n# expires %s\n",
				c.AccessKeyID, c.SecretAccessKey, c.SessionToken, time.Unix(int64(c.Expiration), 0).UTC().Format(time.RFC3339))
			return nil
		},
	}
	c.Flags().DurationVar(&duration, "duration", time.Hour, "lifetime of the credentials (15m to 12h)")
	return c
}
