package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/atomicfile"
)

// Template says what to render where, and what to run when the output
// changed.
type Template struct {
	// Source is the text/template file; it is read again on every render.
	Source string
	// Dest is the output file, written atomically with mode 0600.
	Dest string
	// Reload is the command (argv, no shell) run after Dest changed; empty
	// runs nothing.
	Reload []string
}

// ParseTemplate parses the --template flag: SRC:DST[:RELOAD-CMD], where
// RELOAD-CMD is split on spaces into argv (no shell) and may contain ':'.
func ParseTemplate(s string) (Template, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return Template{}, fmt.Errorf("agent: template %q: want SRC:DST[:RELOAD-CMD]", s)
	}
	t := Template{Source: parts[0], Dest: parts[1]}
	if len(parts) == 3 {
		t.Reload = strings.Fields(parts[2])
	}
	return t, nil
}

// Entry is one parameter as the params and secrets template functions
// return it.
type Entry struct {
	// Name is the full parameter name.
	Name string
	// Key is the name relative to the path, as an environment variable
	// name (EnvName).
	Key     string
	Value   string
	Version int64
}

// EnvName is the environment variable name of parameter name read under
// path, following chamber's convention: the name relative to the path, with
// '/', '-' and '.' replaced by '_', upper-cased. /app/prod/db-url under
// /app/prod is DB_URL.
func EnvName(basePath, name string) string {
	rel := name
	base := strings.TrimRight(basePath, "/")
	if r, ok := strings.CutPrefix(name, base+"/"); ok && base != "" {
		rel = r
	}
	rel = strings.TrimLeft(rel, "/")
	rel = strings.Map(func(r rune) rune {
		switch r {
		case '/', '-', '.':
			return '_'
		}
		return r
	}, rel)
	return strings.ToUpper(rel)
}

// RendererConfig configures a Renderer.
type RendererConfig struct {
	Source   Source
	Template Template
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives paramstore_agent_template_renders_total; may be nil.
	Registerer prometheus.Registerer
	// RetryAfter is how long Run waits after a failed render or watch before
	// trying again; zero means 10s.
	RetryAfter time.Duration
	// RunCommand runs the reload command; nil runs it with os/exec.
	RunCommand func(ctx context.Context, argv []string) ([]byte, error)
}

// Renderer renders one template and keeps it up to date.
type Renderer struct {
	cfg     RendererConfig
	log     *slog.Logger
	renders *prometheus.CounterVec
}

// NewRenderer checks cfg and builds a Renderer.
func NewRenderer(cfg RendererConfig) (*Renderer, error) {
	if cfg.Source == nil {
		return nil, errors.New("agent: RendererConfig.Source is required")
	}
	if cfg.Template.Source == "" || cfg.Template.Dest == "" {
		return nil, errors.New("agent: RendererConfig.Template needs Source and Dest")
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 10 * time.Second
	}
	if cfg.RunCommand == nil {
		cfg.RunCommand = func(ctx context.Context, argv []string) ([]byte, error) {
			return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	renders := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "paramstore_agent_template_renders_total",
		Help:        "Template renders, by result (unchanged, written, error).",
		ConstLabels: prometheus.Labels{"template": cfg.Template.Dest},
	}, []string{"result"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(renders); err != nil {
			return nil, err
		}
	}
	return &Renderer{cfg: cfg, log: log.With(logKeyTemplate, cfg.Template.Dest), renders: renders}, nil
}

// usage records what a render read, to know which changes matter.
type usage struct {
	names map[string]bool // parameter names without selector
	paths map[string]bool
}

func (u usage) relevant(name string) bool {
	if u.names[name] {
		return true
	}
	for p := range u.paths {
		if strings.HasPrefix(name, strings.TrimRight(p, "/")+"/") {
			return true
		}
	}
	return false
}

// watchPaths are the paths to watch to see every change that matters: the
// paths read, and the parent of each name read, minus those already under
// another one.
func (u usage) watchPaths() []string {
	set := map[string]bool{}
	for p := range u.paths {
		set[p] = true
	}
	for n := range u.names {
		d := path.Dir(n)
		if !strings.HasPrefix(n, "/") || d == "." {
			d = "/"
		}
		set[d] = true
	}
	var out []string
	for p := range set {
		covered := false
		for q := range set {
			if q != p && (q == "/" || strings.HasPrefix(p, strings.TrimRight(q, "/")+"/")) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func stripSelector(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		return name[:i]
	}
	return name
}

// Render renders the template once, writes Dest if the output differs from
// what is there, and then runs the reload command. It reports whether Dest
// changed.
func (r *Renderer) Render(ctx context.Context) (changed bool, err error) {
	changed, _, err = r.render(ctx)
	return changed, err
}

func (r *Renderer) render(ctx context.Context) (bool, usage, error) {
	u := usage{names: map[string]bool{}, paths: map[string]bool{}}
	tpl := r.cfg.Template
	src, err := os.ReadFile(tpl.Source)
	if err != nil {
		r.renders.WithLabelValues("error").Inc()
		return false, u, fmt.Errorf("agent: template %s: %w", tpl.Source, err)
	}
	get := func(name string, decrypt bool) (string, error) {
		u.names[stripSelector(name)] = true
		res, err := r.cfg.Source.Get(ctx, name, decrypt)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return res.Value, nil
	}
	list := func(p string, decrypt bool) ([]Entry, error) {
		u.paths[p] = true
		rs, err := r.cfg.Source.GetByPath(ctx, p, true, decrypt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out := make([]Entry, 0, len(rs))
		for _, res := range rs {
			out = append(out, Entry{Name: res.Name, Key: EnvName(p, res.Name), Value: res.Value, Version: res.Version})
		}
		slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	funcs := template.FuncMap{
		"param":   func(name string) (string, error) { return get(name, false) },
		"secret":  func(name string) (string, error) { return get(name, true) },
		"params":  func(p string) ([]Entry, error) { return list(p, false) },
		"secrets": func(p string) ([]Entry, error) { return list(p, true) },
		"envName": EnvName,
	}
	t, err := template.New(filepath.Base(tpl.Source)).Funcs(funcs).Option("missingkey=error").Parse(string(src))
	if err != nil {
		r.renders.WithLabelValues("error").Inc()
		return false, u, fmt.Errorf("agent: template %s: %w", tpl.Source, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, nil); err != nil {
		r.renders.WithLabelValues("error").Inc()
		return false, u, fmt.Errorf("agent: render %s: %w", tpl.Source, err)
	}
	old, err := os.ReadFile(tpl.Dest)
	if err == nil && bytes.Equal(old, buf.Bytes()) {
		r.renders.WithLabelValues("unchanged").Inc()
		return false, u, nil
	}
	if err := atomicfile.WriteFile(tpl.Dest, buf.Bytes(), 0o600); err != nil {
		r.renders.WithLabelValues("error").Inc()
		return false, u, fmt.Errorf("agent: template %s: %w", tpl.Source, err)
	}
	r.renders.WithLabelValues("written").Inc()
	r.log.Info("template rendered")
	if len(tpl.Reload) > 0 {
		out, err := r.cfg.RunCommand(ctx, tpl.Reload)
		if err != nil {
			return true, u, fmt.Errorf("agent: reload command %q: %w: %s", tpl.Reload, err, bytes.TrimSpace(out))
		}
		r.log.Info("reload command ran", "command", tpl.Reload)
	}
	return true, u, nil
}

// Run renders the template, then re-renders it whenever a value it read
// changes, until ctx ends. Failed renders and ended watches are retried
// after RetryAfter. Run returns nil when ctx ends.
func (r *Renderer) Run(ctx context.Context) error {
	var (
		watching   []string
		stopWatch  = func() {}
		changes    <-chan client.Change
		lastUsage  usage
		needRender = true
	)
	defer func() { stopWatch() }()
	for {
		if needRender {
			_, u, err := r.render(ctx)
			if err != nil {
				r.log.Warn("render failed", logKeyError, err)
			}
			if len(u.names)+len(u.paths) > 0 {
				lastUsage = u
			}
			needRender = err != nil
		}
		if wp := lastUsage.watchPaths(); changes == nil || !slices.Equal(wp, watching) {
			stopWatch()
			wctx, cancelWatch := context.WithCancel(ctx)
			stopWatch = cancelWatch
			ch, err := r.watch(wctx, wp)
			if err != nil {
				r.log.Warn("watch failed", logKeyError, err)
				changes, watching = nil, nil
			} else {
				changes, watching = ch, wp
			}
		}
		var retry <-chan time.Time
		if needRender || changes == nil {
			retry = time.After(r.cfg.RetryAfter)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-retry:
			needRender = true
		case c, ok := <-changes:
			if !ok {
				changes = nil
				needRender = true
				continue
			}
			pending := []client.Change{c}
		drain:
			for {
				select {
				case c, ok := <-changes:
					if !ok {
						changes = nil
						break drain
					}
					pending = append(pending, c)
				default:
					break drain
				}
			}
			for _, c := range pending {
				if c.Reset {
					needRender = true
					continue
				}
				if lastUsage.relevant(c.Name) {
					r.cfg.Source.Invalidate(c.Name)
					needRender = true
				}
			}
		}
	}
}

// watch merges the Source's watches of paths into one channel, closed when
// any of them ends.
func (r *Renderer) watch(ctx context.Context, paths []string) (<-chan client.Change, error) {
	if len(paths) == 0 {
		return nil, errors.New("agent: nothing to watch yet")
	}
	out := make(chan client.Change)
	chans := make([]<-chan client.Change, 0, len(paths))
	for _, p := range paths {
		ch, err := r.cfg.Source.Watch(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("agent: watch %s: %w", p, err)
		}
		chans = append(chans, ch)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, len(chans))
	for _, ch := range chans {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case c, ok := <-ch:
					if !ok {
						cancel()
						return
					}
					select {
					case out <- c:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() {
		for range chans {
			<-done
		}
		cancel()
		close(out)
	}()
	return out, nil
}
