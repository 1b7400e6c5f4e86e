package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/paramstore/paramstore/internal/agent"
)

// exportFormat names the json export format and its version.
const exportFormat = "paramstore-export/1"

// exportFile is the json export: every attribute a parameter has.
type exportFile struct {
	Format     string        `json:"format"`
	Exported   time.Time     `json:"exported"`
	Source     string        `json:"source"`
	Paths      []string      `json:"paths"`
	Parameters []exportParam `json:"parameters"`
}

type exportParam struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	// ValueOmitted: a SecureString exported without --with-decryption
	// (import skips it).
	ValueOmitted     bool              `json:"value_omitted,omitempty"`
	Version          int64             `json:"version"`
	Tier             string            `json:"tier,omitempty"`
	DataType         string            `json:"data_type,omitempty"`
	Description      string            `json:"description,omitempty"`
	AllowedPattern   string            `json:"allowed_pattern,omitempty"`
	KeyID            string            `json:"key_id,omitempty"`
	Policies         []string          `json:"policies,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
	Labels           []string          `json:"labels,omitempty"`
	LastModifiedDate time.Time         `json:"last_modified,omitzero"`
	// History holds the earlier versions, oldest first (--history).
	History []exportVersion `json:"history,omitempty"`
}

type exportVersion struct {
	Version        int64    `json:"version"`
	Type           string   `json:"type"`
	Value          string   `json:"value"`
	ValueOmitted   bool     `json:"value_omitted,omitempty"`
	Description    string   `json:"description,omitempty"`
	AllowedPattern string   `json:"allowed_pattern,omitempty"`
	Labels         []string `json:"labels,omitempty"`
}

// progress is a progress bar on a terminal, plain lines every step
// otherwise.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	what  string
	total int
	done  int
	step  int
}

func newProgress(w io.Writer, total int, what string) *progress {
	p := &progress{w: w, what: what, total: total, step: max(1, total/10)}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	return p
}

func (p *progress) add() {
	p.done++
	if p.bar != nil {
		p.bar.Add(1)
		return
	}
	if p.done%p.step == 0 || p.done == p.total {
		fmt.Fprintf(p.w, "%s %d/%d\n", p.what, p.done, p.total)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

func newExportCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		conn    connFlags
		paths   []string
		format  string
		decrypt bool
		history bool
		out     string
	)
	cmd := &cobra.Command{
		Use:   "export --path P [--path P2...] [--format json|yaml|dotenv] [--with-decryption] [--history] [--out FILE]",
		Short: "Write the parameters under paths as json (every attribute), or yaml/dotenv as chamber writes them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(paths) == 0 {
				return errors.New("--path is required")
			}
			switch format {
			case "json", "yaml", "dotenv":
			default:
				return fmt.Errorf("--format %q: want json, yaml or dotenv", format)
			}
			if format != "json" && (history || len(paths) > 1) {
				return errors.New("--format yaml and dotenv take one --path and no --history (chamber's format: KEY -> value)")
			}
			c, _, err := conn.ssmClient(cmd.Context(), 10)
			if err != nil {
				return err
			}
			f, err := exportParams(cmd.Context(), c, paths, decrypt || format != "json", history, stderr)
			if err != nil {
				return err
			}
			f.Source = conn.resolvedEndpoint()
			var buf bytes.Buffer
			switch format {
			case "json":
				enc := json.NewEncoder(&buf)
				enc.SetIndent("", "  ")
				err = enc.Encode(f)
			case "yaml":
				err = yaml.NewEncoder(&buf).Encode(flatten(f, paths[0], false))
			case "dotenv":
				writeDotenv(&buf, flatten(f, paths[0], true))
			}
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = stdout.Write(buf.Bytes())
				return err
			}
			return os.WriteFile(out, buf.Bytes(), 0o600)
		},
	}
	conn.register(cmd.PersistentFlags(), "")
	fl := cmd.Flags()
	fl.StringArrayVar(&paths, "path", nil, "parameter path to export, recursively (repeatable)")
	fl.StringVar(&format, "format", "json", "json (every attribute, re-importable), yaml or dotenv (chamber's formats; always decrypted)")
	fl.BoolVar(&decrypt, "with-decryption", false, "include SecureString values in plaintext (else they are omitted from json)")
	fl.BoolVar(&history, "history", false, "include every earlier version (json)")
	fl.StringVar(&out, "out", "", "file to write, mode 0600 (default stdout)")
	return cmd
}

// flatten is chamber's view of f: the name relative to path as the key
// (upper-cased with '-', '/' and '.' as '_' for dotenv).
func flatten(f *exportFile, path string, env bool) map[string]string {
	m := map[string]string{}
	for _, p := range f.Parameters {
		if env {
			m[agent.EnvName(path, p.Name)] = p.Value
			continue
		}
		m[strings.TrimPrefix(strings.TrimPrefix(p.Name, strings.TrimSuffix(path, "/")), "/")] = p.Value
	}
	return m
}

// writeDotenv writes KEY="value" lines, sorted, escaped as chamber does.
func writeDotenv(w io.Writer, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "$", `\$`)
	for _, k := range keys {
		fmt.Fprintf(w, "%s=\"%s\"\n", k, r.Replace(m[k]))
	}
}

// parseDotenv reads KEY=VALUE lines (optionally "export ", double or
// single quoted); # starts a comment line.
func parseDotenv(data []byte) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("dotenv line %d: want KEY=VALUE", n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			var b strings.Builder
			s := v[1 : len(v)-1]
			for i := 0; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(s[i])
					}
					continue
				}
				b.WriteByte(s[i])
			}
			v = b.String()
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		}
		m[k] = v
	}
	return m, sc.Err()
}

// exportParams reads the parameters under paths with every attribute.
func exportParams(ctx context.Context, c *ssm.Client, paths []string, decrypt, history bool, progressW io.Writer) (*exportFile, error) {
	f := &exportFile{Format: exportFormat, Exported: time.Now().UTC(), Paths: paths, Parameters: []exportParam{}}
	byName := map[string]*exportParam{}
	var order []string
	for _, path := range paths {
		pg := ssm.NewGetParametersByPathPaginator(c, &ssm.GetParametersByPathInput{
			Path: aws.String(path), Recursive: aws.Bool(true), WithDecryption: aws.Bool(decrypt), MaxResults: aws.Int32(10)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", path, err)
			}
			for _, p := range page.Parameters {
				n := aws.ToString(p.Name)
				if byName[n] != nil {
					continue
				}
				ep := &exportParam{Name: n, Type: string(p.Type), Value: aws.ToString(p.Value), Version: p.Version,
					DataType: aws.ToString(p.DataType), LastModifiedDate: aws.ToTime(p.LastModifiedDate).UTC()}
				if p.Type == types.ParameterTypeSecureString && !decrypt {
					ep.Value, ep.ValueOmitted = "", true
				}
				byName[n] = ep
				order = append(order, n)
			}
		}
		dp := ssm.NewDescribeParametersPaginator(c, &ssm.DescribeParametersInput{MaxResults: aws.Int32(50),
			ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{path}}}})
		for dp.HasMorePages() {
			page, err := dp.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe %s: %w", path, err)
			}
			for _, m := range page.Parameters {
				ep := byName[aws.ToString(m.Name)]
				if ep == nil {
					continue
				}
				ep.Tier, ep.Description, ep.AllowedPattern = string(m.Tier), aws.ToString(m.Description), aws.ToString(m.AllowedPattern)
				if ep.Type == "SecureString" {
					ep.KeyID = aws.ToString(m.KeyId)
				}
				for _, pol := range m.Policies {
					ep.Policies = append(ep.Policies, aws.ToString(pol.PolicyText))
				}
			}
		}
	}
	prog := newProgress(progressW, len(order), "export")
	for _, n := range order {
		ep := byName[n]
		tags, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(n)})
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", n, err)
		}
		for _, t := range tags.TagList {
			if ep.Tags == nil {
				ep.Tags = map[string]string{}
			}
			ep.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		hp := ssm.NewGetParameterHistoryPaginator(c, &ssm.GetParameterHistoryInput{Name: aws.String(n), WithDecryption: aws.Bool(decrypt), MaxResults: aws.Int32(50)})
		for hp.HasMorePages() {
			page, err := hp.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", n, err)
			}
			for _, h := range page.Parameters {
				if h.Version == ep.Version {
					ep.Labels = append(ep.Labels, h.Labels...)
					continue
				}
				if !history {
					continue
				}
				v := exportVersion{Version: h.Version, Type: string(h.Type), Value: aws.ToString(h.Value), Description: aws.ToString(h.Description),
					AllowedPattern: aws.ToString(h.AllowedPattern), Labels: h.Labels}
				if h.Type == types.ParameterTypeSecureString && !decrypt {
					v.Value, v.ValueOmitted = "", true
				}
				ep.History = append(ep.History, v)
			}
		}
		sort.Slice(ep.History, func(i, j int) bool { return ep.History[i].Version < ep.History[j].Version })
		sort.Strings(ep.Labels)
		f.Parameters = append(f.Parameters, *ep)
		prog.add()
	}
	prog.finish()
	sort.Slice(f.Parameters, func(i, j int) bool { return f.Parameters[i].Name < f.Parameters[j].Name })
	return f, nil
}

func newImportCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		conn      connFlags
		format    string
		path      string
		typ       string
		keyID     string
		dryRun    bool
		overwrite bool
		workers   int
	)
	cmd := &cobra.Command{
		Use:   "import FILE [--dry-run] [--overwrite] [--key-id K]",
		Short: "Create or update the parameters of an export (json), or of a chamber yaml/json/dotenv file under --path",
		Long: `import is idempotent: a parameter whose value, type and description are
unchanged is not written (no new version). A parameter that exists with
a different value is updated only with --overwrite, else reported and
skipped. --dry-run prints the plan as a diff and writes nothing
(SecureString values are never printed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			params, err := parseImport(data, args[0], format, path, typ)
			if err != nil {
				return err
			}
			if keyID != "" {
				for i := range params {
					if params[i].Type == "SecureString" {
						params[i].KeyID = keyID
					}
				}
			}
			c, _, err := conn.ssmClient(cmd.Context(), 10)
			if err != nil {
				return err
			}
			plan, err := planImport(cmd.Context(), c, params, overwrite)
			if err != nil {
				return err
			}
			if dryRun {
				plan.print(stdout)
				return nil
			}
			for _, u := range plan.skip {
				fmt.Fprintf(stdout, "! %s: %s\n", u.p.Name, u.reason)
			}
			if err := plan.apply(cmd.Context(), c, stderr, workers); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "import: %d created, %d updated, %d unchanged, %d skipped\n", len(plan.create), len(plan.update), plan.unchanged, len(plan.skip))
			return nil
		},
	}
	conn.register(cmd.PersistentFlags(), "")
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "json, yaml or dotenv (default: by the file's extension, else json)")
	fl.StringVar(&path, "path", "", "for chamber files (a flat KEY: value map): the path the keys go under")
	fl.StringVar(&typ, "type", "SecureString", "for chamber files: the type of the parameters (chamber writes SecureStrings)")
	fl.StringVar(&keyID, "key-id", "", "KMS key of the SecureStrings written (default: the export's, else the store's default)")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan as a diff; write nothing")
	fl.BoolVar(&overwrite, "overwrite", false, "update parameters that exist with a different value")
	fl.IntVar(&workers, "concurrency", 4, "parameters written at once (AWS allows a few PutParameter calls per second by default; throttling is retried)")
	return cmd
}

// parseImport reads an export (json with "format") or a chamber flat map.
func parseImport(data []byte, file, format, path, typ string) ([]exportParam, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(file)) {
		case ".yaml", ".yml":
			format = "yaml"
		case ".env":
			format = "dotenv"
		default:
			format = "json"
		}
	}
	if format == "json" {
		var probe struct {
			Format string `json:"format"`
		}
		if json.Unmarshal(data, &probe) == nil && probe.Format != "" {
			if probe.Format != exportFormat {
				return nil, fmt.Errorf("%s: format %q, want %q", file, probe.Format, exportFormat)
			}
			var f exportFile
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			return f.Parameters, nil
		}
	}
	flat := map[string]string{}
	var err error
	switch format {
	case "json":
		err = json.Unmarshal(data, &flat)
	case "yaml":
		err = yaml.Unmarshal(data, &flat)
	case "dotenv":
		flat, err = parseDotenv(data)
	default:
		return nil, fmt.Errorf("--format %q: want json, yaml or dotenv", format)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if path == "" {
		return nil, fmt.Errorf("%s is a flat KEY: value map (chamber's format): give --path for the keys", file)
	}
	var out []exportParam
	for k, v := range flat {
		// chamber stores keys lower-cased.
		out = append(out, exportParam{Name: strings.TrimSuffix(path, "/") + "/" + strings.ToLower(k), Type: typ, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type importPlan struct {
	create    []exportParam
	update    []planUpdate
	skip      []planUpdate // differs, no --overwrite; or no value in the file
	unchanged int
}

type planUpdate struct {
	p      exportParam
	old    string
	oldTyp string
	reason string
}

// planImport compares params with what the target holds (GetParameters,
// decrypted, 10 names a call).
func planImport(ctx context.Context, c *ssm.Client, params []exportParam, overwrite bool) (*importPlan, error) {
	plan := &importPlan{}
	for i := 0; i < len(params); i += 10 {
		batch := params[i:min(i+10, len(params))]
		names := make([]string, len(batch))
		for j, p := range batch {
			names[j] = p.Name
		}
		got, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("read the target: %w", err)
		}
		have := map[string]types.Parameter{}
		for _, p := range got.Parameters {
			have[aws.ToString(p.Name)] = p
		}
		for _, p := range batch {
			if p.ValueOmitted {
				plan.skip = append(plan.skip, planUpdate{p: p, reason: "no value in the file (exported without --with-decryption)"})
				continue
			}
			cur, ok := have[p.Name]
			switch {
			case !ok:
				plan.create = append(plan.create, p)
			case aws.ToString(cur.Value) == p.Value && string(cur.Type) == p.Type:
				plan.unchanged++
			case !overwrite:
				plan.skip = append(plan.skip, planUpdate{p: p, old: aws.ToString(cur.Value), oldTyp: string(cur.Type), reason: "exists with another value (use --overwrite)"})
			default:
				plan.update = append(plan.update, planUpdate{p: p, old: aws.ToString(cur.Value), oldTyp: string(cur.Type)})
			}
		}
	}
	return plan, nil
}

func shown(typ, v string) string {
	if typ == "SecureString" {
		return "(secure)"
	}
	return strconv.Quote(v)
}

// print writes the plan as a diff: + created, -/+ updated, ! skipped.
func (plan *importPlan) print(w io.Writer) {
	for _, p := range plan.create {
		fmt.Fprintf(w, "+ %s (%s) = %s\n", p.Name, p.Type, shown(p.Type, p.Value))
	}
	for _, u := range plan.update {
		fmt.Fprintf(w, "- %s (%s) = %s\n+ %s (%s) = %s\n", u.p.Name, u.oldTyp, shown(u.oldTyp, u.old), u.p.Name, u.p.Type, shown(u.p.Type, u.p.Value))
	}
	for _, u := range plan.skip {
		fmt.Fprintf(w, "! %s: %s\n", u.p.Name, u.reason)
	}
	fmt.Fprintf(w, "plan: %d to create, %d to update, %d unchanged, %d skipped\n", len(plan.create), len(plan.update), plan.unchanged, len(plan.skip))
}

func (plan *importPlan) apply(ctx context.Context, c *ssm.Client, progressW io.Writer, workers int) error {
	prog := newProgress(progressW, len(plan.create)+len(plan.update), "import")
	defer prog.finish()
	var mu sync.Mutex // guards prog
	done := func() {
		mu.Lock()
		prog.add()
		mu.Unlock()
	}
	// Names are independent: a few run at once (each name's versions in
	// order within one goroutine).
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	for _, p := range plan.create {
		g.Go(func() error {
			for _, h := range p.History {
				if h.ValueOmitted {
					continue
				}
				v := p
				v.Type, v.Value, v.Description, v.AllowedPattern, v.Labels = h.Type, h.Value, h.Description, h.AllowedPattern, h.Labels
				if err := putParam(ctx, c, v, true); err != nil {
					return err
				}
			}
			if err := putParam(ctx, c, p, len(p.History) > 0); err != nil {
				return err
			}
			done()
			return nil
		})
	}
	for _, u := range plan.update {
		g.Go(func() error {
			if err := putParam(ctx, c, u.p, true); err != nil {
				return err
			}
			done()
			return nil
		})
	}
	return g.Wait()
}

// putParam writes p (a new version), then its tags and labels.
func putParam(ctx context.Context, c *ssm.Client, p exportParam, exists bool) error {
	in := &ssm.PutParameterInput{Name: aws.String(p.Name), Type: types.ParameterType(p.Type), Value: aws.String(p.Value)}
	if p.Tier != "" {
		in.Tier = types.ParameterTier(p.Tier)
	}
	if p.DataType != "" {
		in.DataType = aws.String(p.DataType)
	}
	if p.Description != "" {
		in.Description = aws.String(p.Description)
	}
	if p.AllowedPattern != "" {
		in.AllowedPattern = aws.String(p.AllowedPattern)
	}
	if p.KeyID != "" && p.Type == "SecureString" {
		in.KeyId = aws.String(p.KeyID)
	}
	if len(p.Policies) > 0 {
		in.Policies = aws.String("[" + strings.Join(p.Policies, ",") + "]")
	}
	if exists {
		in.Overwrite = aws.Bool(true)
	} else {
		for k, v := range p.Tags {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
	}
	out, err := c.PutParameter(ctx, in)
	if err != nil {
		return fmt.Errorf("put %s: %w", p.Name, err)
	}
	if exists && len(p.Tags) > 0 {
		var tags []types.Tag
		for k, v := range p.Tags {
			tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := c.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(p.Name), Tags: tags}); err != nil {
			return fmt.Errorf("tag %s: %w", p.Name, err)
		}
	}
	if len(p.Labels) > 0 {
		if _, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String(p.Name), ParameterVersion: aws.Int64(out.Version), Labels: p.Labels}); err != nil {
			return fmt.Errorf("label %s: %w", p.Name, err)
		}
	}
	return nil
}
