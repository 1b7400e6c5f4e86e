package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/spf13/cobra"
)

// The everyday commands: get, put, ls, tree, history, diff, rollback
// (DESIGN.md §3), over the SSM API of any store (Paramstore, AWS, moto).

// hiddenValue stands for a SecureString value the user did not ask to
// see (--decrypt).
const hiddenValue = "(SecureString hidden; --decrypt shows it)"

func newEverydayCmds(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{newGetCmd(stdout, stderr), newPutCmd(stdout), newLsCmd(stdout), newTreeCmd(stdout),
		newHistoryCmd(stdout), newDiffCmd(stdout), newRollbackCmd(stdout)}
}

// jsonOut writes v as indented JSON.
func jsonOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// getParam is a parameter as get prints it with --json.
type getParam struct {
	Name             string
	Type             string
	Value            *string `json:",omitempty"`
	Hidden           bool    `json:",omitempty"`
	Version          int64
	Selector         string `json:",omitempty"`
	DataType         string `json:",omitempty"`
	LastModifiedDate string `json:",omitempty"`
	ARN              string `json:",omitempty"`
}

func newGetCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		flags   connFlags
		decrypt bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "get NAME[:VERSION|:LABEL]",
		Short: "Print a parameter's value (a SecureString only with --decrypt)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.humanClient(cmd.Context())
			if err != nil {
				return err
			}
			out, err := c.GetParameter(cmd.Context(), &ssm.GetParameterInput{Name: aws.String(args[0]), WithDecryption: aws.Bool(decrypt)})
			if err != nil {
				return apiError(err, args[0])
			}
			p := out.Parameter
			g := getParam{Name: aws.ToString(p.Name), Type: string(p.Type), Version: p.Version, Selector: aws.ToString(p.Selector),
				DataType: aws.ToString(p.DataType), LastModifiedDate: fmtTime(p.LastModifiedDate), ARN: aws.ToString(p.ARN)}
			hidden := p.Type == types.ParameterTypeSecureString && !decrypt
			if hidden {
				g.Hidden = true
			} else {
				g.Value = p.Value
			}
			if asJSON {
				return jsonOut(stdout, g)
			}
			if hidden {
				fmt.Fprintf(stderr, "%s version %d is a SecureString; --decrypt shows its value\n", g.Name, g.Version)
				return nil
			}
			_, err = fmt.Fprintln(stdout, aws.ToString(p.Value))
			return err
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().BoolVar(&decrypt, "decrypt", false, "show a SecureString's value (a decrypting read, audited)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine output: the parameter with its attributes")
	return cmd
}

func newPutCmd(stdout io.Writer) *cobra.Command {
	var (
		flags       connFlags
		typ         string
		secure      bool
		description string
	)
	cmd := &cobra.Command{
		Use:   "put NAME VALUE|- [--type T] [--secure] [--description D]",
		Short: "Create a parameter or write a new version of it; - reads the value from stdin",
		Long: `put creates NAME or writes a new version of it, and says which happened.
VALUE - reads the value from standard input (one trailing newline removed),
which keeps secrets out of shell history. Without --type or --secure a new
parameter is a String and an existing one keeps its type.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, value := args[0], args[1]
			if secure {
				if typ != "" && typ != string(types.ParameterTypeSecureString) {
					return usageError("--secure and --type %s contradict each other", typ)
				}
				typ = string(types.ParameterTypeSecureString)
			}
			switch typ {
			case "", "String", "StringList", "SecureString":
			default:
				return usageError("--type %q: want String, StringList or SecureString", typ)
			}
			if value == "-" {
				raw, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				if err != nil {
					return fmt.Errorf("read the value from stdin: %w", err)
				}
				value = strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
			}
			c, err := flags.humanClient(cmd.Context())
			if err != nil {
				return err
			}
			if typ == "" {
				// Keep an existing parameter's type; a new one is a String.
				typ = "String"
				cur, err := c.GetParameter(cmd.Context(), &ssm.GetParameterInput{Name: aws.String(name)})
				if err == nil {
					typ = string(cur.Parameter.Type)
				} else if exitCode(apiError(err, name)) != exitNotFound {
					return apiError(err, name)
				}
			}
			in := &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: types.ParameterType(typ), Overwrite: aws.Bool(true)}
			if description != "" {
				in.Description = aws.String(description)
			}
			out, err := c.PutParameter(cmd.Context(), in)
			if err != nil {
				return apiError(err, name)
			}
			if out.Version == 1 {
				_, err = fmt.Fprintf(stdout, "created %s version 1\n", name)
			} else {
				_, err = fmt.Fprintf(stdout, "updated %s to version %d\n", name, out.Version)
			}
			return err
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().StringVar(&typ, "type", "", "String, StringList or SecureString")
	cmd.Flags().BoolVar(&secure, "secure", false, "same as --type SecureString")
	cmd.Flags().StringVar(&description, "description", "", "the parameter's description")
	return cmd
}

// listed is a parameter's metadata as ls and tree show it.
type listed struct {
	Name             string
	Type             string
	Version          int64
	Tier             string `json:",omitempty"`
	LastModifiedDate string `json:",omitempty"`
	LastModifiedUser string `json:",omitempty"`
	Description      string `json:",omitempty"`
}

// listUnder returns the metadata of every parameter at or below path (all
// parameters for "/"), sorted by name: DescribeParameters, which reads no
// value.
func listUnder(ctx context.Context, c *ssm.Client, path string) ([]listed, error) {
	in := &ssm.DescribeParametersInput{MaxResults: aws.Int32(50)}
	if path != "/" {
		in.ParameterFilters = []types.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{path}}}
	}
	var out []listed
	for {
		page, err := c.DescribeParameters(ctx, in)
		if err != nil {
			return nil, apiError(err, path)
		}
		for _, p := range page.Parameters {
			out = append(out, listed{Name: aws.ToString(p.Name), Type: string(p.Type), Version: p.Version, Tier: string(p.Tier),
				LastModifiedDate: fmtTime(p.LastModifiedDate), LastModifiedUser: aws.ToString(p.LastModifiedUser), Description: aws.ToString(p.Description)})
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// cleanPath is path with one leading and no trailing slash ("/" for "").
func cleanPath(path string) string {
	path = "/" + strings.Trim(path, "/")
	return path
}

// relative is name below path without the leading slash ("" when name is
// not below path).
func relative(path, name string) string {
	if path == "/" {
		return strings.TrimPrefix(name, "/")
	}
	if !strings.HasPrefix(name, path+"/") {
		return ""
	}
	return name[len(path)+1:]
}

// listArg lists the parameters under the PATH argument of ls and tree
// ("/" when there is none).
func (f *connFlags) listArg(ctx context.Context, args []string) (string, []listed, error) {
	path := "/"
	if len(args) == 1 {
		path = cleanPath(args[0])
	}
	c, err := f.humanClient(ctx)
	if err != nil {
		return "", nil, err
	}
	all, err := listUnder(ctx, c, path)
	return path, all, err
}

func newLsCmd(stdout io.Writer) *cobra.Command {
	var (
		flags     connFlags
		recursive bool
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "ls [PATH] [-R]",
		Short: "List the parameters and sub-paths directly under PATH (-R: every parameter below it)",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, all, err := flags.listArg(cmd.Context(), args)
			if err != nil {
				return err
			}
			var params []listed
			var dirs []string
			seen := map[string]bool{}
			for _, p := range all {
				rel := relative(path, p.Name)
				if rel == "" && path != "/" {
					continue
				}
				if !recursive && strings.Contains(rel, "/") {
					d := rel[:strings.Index(rel, "/")+1]
					if !seen[d] {
						seen[d] = true
						dirs = append(dirs, d)
					}
					continue
				}
				params = append(params, p)
			}
			if asJSON {
				return jsonOut(stdout, struct {
					Path       string
					Paths      []string `json:",omitempty"`
					Parameters []listed
				}{path, dirs, nonNil(params)})
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tVERSION\tLAST MODIFIED\tDESCRIPTION")
			for _, d := range dirs {
				fmt.Fprintf(tw, "%s\t\t\t\t\n", d)
			}
			for _, p := range params {
				name := p.Name
				if !recursive {
					name = relative(path, p.Name)
					if name == "" {
						name = p.Name
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", name, p.Type, p.Version, p.LastModifiedDate, oneLine(p.Description, 40))
			}
			return tw.Flush()
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "every parameter below PATH, with full names")
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine output")
	return cmd
}

func nonNil(l []listed) []listed {
	if l == nil {
		return []listed{}
	}
	return l
}

// oneLine is s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// treeNode is a path segment: a parameter, a directory, or both.
type treeNode struct {
	name     string
	param    *listed
	children map[string]*treeNode
}

func (n *treeNode) child(seg string) *treeNode {
	if n.children == nil {
		n.children = map[string]*treeNode{}
	}
	c := n.children[seg]
	if c == nil {
		c = &treeNode{name: seg}
		n.children[seg] = c
	}
	return c
}

func (n *treeNode) print(w io.Writer, prefix string) {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		c := n.children[k]
		branch, next := "├── ", "│   "
		if i == len(names)-1 {
			branch, next = "└── ", "    "
		}
		label := c.name
		if c.param != nil {
			label += fmt.Sprintf("  (%s, v%d)", c.param.Type, c.param.Version)
		}
		if len(c.children) > 0 {
			label = c.name + "/" + strings.TrimPrefix(label, c.name)
		}
		fmt.Fprintln(w, prefix+branch+label)
		c.print(w, prefix+next)
	}
}

func newTreeCmd(stdout io.Writer) *cobra.Command {
	var (
		flags  connFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "tree [PATH]",
		Short: "Show the parameters below PATH as a tree, with type and version",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, all, err := flags.listArg(cmd.Context(), args)
			if err != nil {
				return err
			}
			if asJSON {
				return jsonOut(stdout, nonNil(all))
			}
			root := &treeNode{}
			for i := range all {
				rel := relative(path, all[i].Name)
				if rel == "" {
					continue
				}
				n := root
				for _, seg := range strings.Split(rel, "/") {
					n = n.child(seg)
				}
				n.param = &all[i]
			}
			fmt.Fprintln(stdout, path)
			root.print(stdout, "")
			return nil
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine output: the parameters below PATH")
	return cmd
}

// version is one version of a parameter as history, diff and rollback see it.
type version struct {
	Version          int64
	Type             string
	Value            *string `json:",omitempty"`
	Hidden           bool    `json:",omitempty"`
	Description      string  `json:",omitempty"`
	DataType         string  `json:",omitempty"`
	Tier             string  `json:",omitempty"`
	AllowedPattern   string  `json:",omitempty"`
	Labels           []string
	Policies         []string `json:",omitempty"`
	LastModifiedDate string   `json:",omitempty"`
	LastModifiedUser string   `json:",omitempty"`

	value string // the value as read, hidden or not
}

// history reads every version of name, oldest first. With decrypt false a
// SecureString's value is hidden (and not read in clear).
func history(ctx context.Context, c *ssm.Client, name string, decrypt bool) ([]version, error) {
	in := &ssm.GetParameterHistoryInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt), MaxResults: aws.Int32(50)}
	var out []version
	for {
		page, err := c.GetParameterHistory(ctx, in)
		if err != nil {
			return nil, apiError(err, name)
		}
		for _, h := range page.Parameters {
			v := version{Version: h.Version, Type: string(h.Type), Description: aws.ToString(h.Description), DataType: aws.ToString(h.DataType),
				Tier: string(h.Tier), AllowedPattern: aws.ToString(h.AllowedPattern), Labels: append([]string{}, h.Labels...),
				LastModifiedDate: fmtTime(h.LastModifiedDate), LastModifiedUser: aws.ToString(h.LastModifiedUser), value: aws.ToString(h.Value)}
			sort.Strings(v.Labels)
			for _, p := range h.Policies {
				v.Policies = append(v.Policies, aws.ToString(p.PolicyText))
			}
			if h.Type == types.ParameterTypeSecureString && !decrypt {
				v.Hidden = true
			} else {
				v.Value = aws.String(v.value)
			}
			out = append(out, v)
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	if len(out) == 0 {
		return nil, &exitCodeError{code: exitNotFound, err: fmt.Errorf("ParameterNotFound: parameter %s has no history", name)}
	}
	return out, nil
}

func (v version) shown() string {
	if v.Hidden {
		return hiddenValue
	}
	return v.value
}

func newHistoryCmd(stdout io.Writer) *cobra.Command {
	var (
		flags   connFlags
		decrypt bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List a parameter's versions with their labels, authors and values",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.humanClient(cmd.Context())
			if err != nil {
				return err
			}
			vs, err := history(cmd.Context(), c, args[0], decrypt)
			if err != nil {
				return err
			}
			if asJSON {
				return jsonOut(stdout, vs)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tTYPE\tLAST MODIFIED\tBY\tLABELS\tVALUE")
			for _, v := range vs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.Type, v.LastModifiedDate, v.LastModifiedUser,
					strings.Join(v.Labels, ","), oneLine(v.shown(), 50))
			}
			return tw.Flush()
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().BoolVar(&decrypt, "decrypt", false, "show SecureString values (a decrypting read, audited)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine output")
	return cmd
}

// document is v as the text diff compares: its attributes, then its value.
func (v version) document() []string {
	attr := func(k, v string) string { return strings.TrimRight(k+": "+v, " ") }
	lines := []string{
		attr("Type", v.Type),
		attr("DataType", v.DataType),
		attr("Tier", v.Tier),
		attr("Description", v.Description),
		attr("AllowedPattern", v.AllowedPattern),
		attr("Labels", strings.Join(v.Labels, ", ")),
		attr("Policies", strings.Join(v.Policies, " ")),
		"Value:",
	}
	return append(lines, strings.Split(v.shown(), "\n")...)
}

// findVersion is version n of vs.
func findVersion(vs []version, name string, n int64) (version, error) {
	for _, v := range vs {
		if v.Version == n {
			return v, nil
		}
	}
	return version{}, &exitCodeError{code: exitNotFound, err: fmt.Errorf("ParameterVersionNotFound: %s has no version %d (latest is %d)", name, n, vs[len(vs)-1].Version)}
}

func parseVersion(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usageError("version %q: want a positive number", s)
	}
	return n, nil
}

func newDiffCmd(stdout io.Writer) *cobra.Command {
	var (
		flags   connFlags
		decrypt bool
	)
	cmd := &cobra.Command{
		Use:   "diff NAME V1 [V2]",
		Short: "Unified diff of two versions' attributes and values (V2 defaults to the latest)",
		Args:  usageArgs(cobra.RangeArgs(2, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			v1, err := parseVersion(args[1])
			if err != nil {
				return err
			}
			var v2 int64
			if len(args) == 3 {
				if v2, err = parseVersion(args[2]); err != nil {
					return err
				}
			}
			c, err := flags.humanClient(cmd.Context())
			if err != nil {
				return err
			}
			vs, err := history(cmd.Context(), c, name, decrypt)
			if err != nil {
				return err
			}
			if v2 == 0 {
				v2 = vs[len(vs)-1].Version
			}
			a, err := findVersion(vs, name, v1)
			if err != nil {
				return err
			}
			b, err := findVersion(vs, name, v2)
			if err != nil {
				return err
			}
			_, err = io.WriteString(stdout, unifiedDiff(fmt.Sprintf("%s version %d", name, v1), fmt.Sprintf("%s version %d", name, v2), a.document(), b.document()))
			return err
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().BoolVar(&decrypt, "decrypt", false, "compare SecureString values in clear (a decrypting read, audited)")
	return cmd
}

func newRollbackCmd(stdout io.Writer) *cobra.Command {
	var (
		flags   connFlags
		to      int64
		decrypt bool
	)
	cmd := &cobra.Command{
		Use:   "rollback NAME --to V",
		Short: "Write version V's value (and type) as a new version; labels stay where they are",
		Long: `rollback reads version V of NAME and writes its value, type and
description as a new version, then prints the diff it applied. Labels are
not moved. A SecureString's value is read decrypted to be written back but
printed only with --decrypt.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if to < 1 {
				return usageError("--to V is required: the version whose value to restore")
			}
			c, err := flags.humanClient(cmd.Context())
			if err != nil {
				return err
			}
			vs, err := history(cmd.Context(), c, name, true)
			if err != nil {
				return err
			}
			target, err := findVersion(vs, name, to)
			if err != nil {
				return err
			}
			latest := vs[len(vs)-1]
			if latest.value == target.value && latest.Type == target.Type && latest.Description == target.Description {
				_, err := fmt.Fprintf(stdout, "%s version %d already has version %d's value; nothing written\n", name, latest.Version, to)
				return err
			}
			in := &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(target.value), Type: types.ParameterType(target.Type),
				Overwrite: aws.Bool(true), Description: aws.String(target.Description)}
			if target.DataType != "" {
				in.DataType = aws.String(target.DataType)
			}
			if target.Tier == string(types.ParameterTierAdvanced) {
				in.Tier = types.ParameterTierAdvanced
			}
			out, err := c.PutParameter(cmd.Context(), in)
			if err != nil {
				return apiError(err, name)
			}
			before, after := latest, target
			after.Version, after.Labels, after.Policies = out.Version, nil, nil
			before.Labels, before.Policies = nil, nil
			if !decrypt && latest.Type == string(types.ParameterTypeSecureString) {
				before.Hidden = true
			}
			if !decrypt && target.Type == string(types.ParameterTypeSecureString) {
				after.Hidden = true
			}
			fmt.Fprintf(stdout, "rolled back %s to version %d's value as version %d\n", name, to, out.Version)
			_, err = io.WriteString(stdout, unifiedDiff(fmt.Sprintf("%s version %d", name, latest.Version), fmt.Sprintf("%s version %d", name, out.Version),
				before.document(), after.document()))
			return err
		},
	}
	flags.register(cmd.Flags(), "")
	cmd.Flags().Int64Var(&to, "to", 0, "the version whose value to restore")
	cmd.Flags().BoolVar(&decrypt, "decrypt", false, "print SecureString values in the diff")
	return cmd
}

// unifiedDiff is the unified diff (3 lines of context) from a to b, named
// from and to; "" when they are equal.
func unifiedDiff(from, to string, a, b []string) string {
	// Longest common subsequence table, from the ends: documents are small.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		line string
		ai   int // line number in a (1-based) before this op
		bi   int
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i], i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', b[j], i, j})
			j++
		}
	}
	const ctx = 3
	var buf bytes.Buffer
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk: from ctx lines before this change to ctx lines after the
		// last change that is at most 2*ctx lines of context away.
		start := max(k-ctx, 0)
		end := k
		for e := k; e < len(ops); e++ {
			if ops[e].kind != ' ' {
				end = e
			} else if e-end > 2*ctx {
				break
			}
		}
		stop := min(end+ctx+1, len(ops))
		if buf.Len() == 0 {
			fmt.Fprintf(&buf, "--- %s\n+++ %s\n", from, to)
		}
		var la, lb int
		for _, o := range ops[start:stop] {
			if o.kind != '+' {
				la++
			}
			if o.kind != '-' {
				lb++
			}
		}
		fmt.Fprintf(&buf, "@@ -%s +%s @@\n", hunkRange(ops[start].ai, la), hunkRange(ops[start].bi, lb))
		for _, o := range ops[start:stop] {
			fmt.Fprintf(&buf, "%c%s\n", o.kind, o.line)
		}
		k = stop
	}
	return buf.String()
}

// hunkRange is a hunk header's "start,count" for a range that begins after
// line i (0-based) of its file.
func hunkRange(i, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", i)
	}
	return fmt.Sprintf("%d,%d", i+1, count)
}

// usageArgs is an argument check whose failure is a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &exitCodeError{code: exitUsage, err: err}
		}
		return nil
	}
}
