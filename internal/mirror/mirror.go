// Package mirror keeps the parameters under a path of one SSM-API store
// (AWS SSM, or another Paramstore) copied into another: names, types,
// values (SecureStrings decrypted at the source and re-encrypted at the
// target, under a mapped key), descriptions, allowed patterns, tiers,
// tags and the labels of the current version; what the source deleted is
// deleted (unless NoDelete).
//
// A sync reads the source with GetParametersByPath and DescribeParameters;
// tags and labels (ListTagsForResource, GetParameterHistory) are read for
// parameters new or changed since the previous sync of this Mirror (by
// version and LastModifiedDate), and for all of them on the first sync and
// every FullEvery syncs, because a tag or label change moves neither. It
// writes only what differs, so a sync with no change at the source writes
// nothing. Every source call waits for a token of a rate limiter (AWS
// shares 40 reads/s among an account's callers) and throttling answers are
// retried with the SDK's backoff.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/time/rate"
)

// API is the part of the SSM API a mirror calls; *ssm.Client implements it.
type API interface {
	GetParametersByPath(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
	DescribeParameters(context.Context, *ssm.DescribeParametersInput, ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
	GetParameterHistory(context.Context, *ssm.GetParameterHistoryInput, ...func(*ssm.Options)) (*ssm.GetParameterHistoryOutput, error)
	ListTagsForResource(context.Context, *ssm.ListTagsForResourceInput, ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
	PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	AddTagsToResource(context.Context, *ssm.AddTagsToResourceInput, ...func(*ssm.Options)) (*ssm.AddTagsToResourceOutput, error)
	RemoveTagsFromResource(context.Context, *ssm.RemoveTagsFromResourceInput, ...func(*ssm.Options)) (*ssm.RemoveTagsFromResourceOutput, error)
	LabelParameterVersion(context.Context, *ssm.LabelParameterVersionInput, ...func(*ssm.Options)) (*ssm.LabelParameterVersionOutput, error)
	DeleteParameters(context.Context, *ssm.DeleteParametersInput, ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error)
}

var _ API = (*ssm.Client)(nil)

// DefaultSourceRate is the default bound of source calls per second: a
// gentle share of AWS's 40 reads/s per account.
const DefaultSourceRate = 5

// Config configures a Mirror.
type Config struct {
	Source, Target API
	// Path is mirrored recursively, to the same names at the target.
	Path string
	// NoDelete keeps target parameters the source no longer has.
	NoDelete bool
	// KeyMap maps a source KMS key (ID or alias) of SecureStrings to the
	// target's; unmapped keys use the target's default key.
	KeyMap map[string]string
	// SourceRate bounds source calls per second (0: DefaultSourceRate).
	SourceRate float64
	// FullEvery re-reads every parameter's tags and labels every this many
	// syncs (0: 10).
	FullEvery int
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Source == nil || c.Target == nil:
		return errors.New("mirror: Config.Source and Config.Target are required")
	case !strings.HasPrefix(c.Path, "/"):
		return fmt.Errorf("mirror: Config.Path %q: want an absolute path", c.Path)
	case c.SourceRate < 0:
		return errors.New("mirror: Config.SourceRate is negative")
	}
	return nil
}

// Stats is what one sync found and did.
type Stats struct {
	Source    int // parameters at the source
	Created   int
	Updated   int // values or attributes rewritten (a new version)
	Tagged    int // parameters whose tags were changed
	Labeled   int // parameters whose labels were added
	Deleted   int
	Unchanged int
	// LabelsUnplaced counts source labels on versions the target never
	// held (see syncLabels).
	LabelsUnplaced int
	// Drift is the parameters that differed before the sync (created,
	// updated, tagged, labeled or deleted; each counted once).
	Drift int
	// SourceCalls and TargetWrites count API calls of the sync.
	SourceCalls, TargetWrites int
}

func (s Stats) String() string {
	return fmt.Sprintf("source=%d created=%d updated=%d tagged=%d labeled=%d deleted=%d unchanged=%d drift=%d source_calls=%d target_writes=%d labels_unplaced=%d",
		s.Source, s.Created, s.Updated, s.Tagged, s.Labeled, s.Deleted, s.Unchanged, s.Drift, s.SourceCalls, s.TargetWrites, s.LabelsUnplaced)
}

// Mirror syncs one path. Not safe for concurrent Syncs.
type Mirror struct {
	cfg     Config
	log     *slog.Logger
	limiter *rate.Limiter
	runs    int
	seen    map[string]stamp // source parameters at the last sync
}

type stamp struct {
	version  int64
	modified time.Time
}

// New returns a Mirror.
func New(cfg Config) (*Mirror, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.SourceRate == 0 {
		cfg.SourceRate = DefaultSourceRate
	}
	if cfg.FullEvery == 0 {
		cfg.FullEvery = 10
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mirror{cfg: cfg, log: log, limiter: rate.NewLimiter(rate.Limit(cfg.SourceRate), 1), seen: map[string]stamp{}}, nil
}

// param is one side's view of a parameter.
type param struct {
	name, typ, value, dataType string
	description, pattern, tier string
	keyID                      string
	version                    int64
	modified                   time.Time
	tags                       map[string]string
	// history is every version, oldest first, and labelAt the version
	// each label is on (read by extras, with tags).
	history    []version
	labelAt    map[string]int64
	extrasRead bool
}

// version is one entry of a parameter's history.
type version struct {
	number                                  int64
	typ, value, description, pattern, keyID string
	dataType, tier                          string
}

// asParam is v as a parameter to put under name.
func (v version) asParam(name string) *param {
	return &param{name: name, typ: v.typ, value: v.value, description: v.description, pattern: v.pattern,
		keyID: v.keyID, dataType: v.dataType, tier: v.tier}
}

// newestWithValue returns the newest version holding value (0: none).
func (p *param) newestWithValue(value string) int64 {
	for i := len(p.history) - 1; i >= 0; i-- {
		if p.history[i].value == value {
			return p.history[i].number
		}
	}
	return 0
}

func (m *Mirror) wait(ctx context.Context, st *Stats) error {
	st.SourceCalls++
	return m.limiter.Wait(ctx)
}

// read lists the parameters under the path with their metadata.
func (m *Mirror) read(ctx context.Context, api API, st *Stats) (map[string]*param, error) {
	limit := func() error {
		if st != nil {
			return m.wait(ctx, st)
		}
		return nil
	}
	out := map[string]*param{}
	var token *string
	for {
		if err := limit(); err != nil {
			return nil, err
		}
		page, err := api.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String(m.cfg.Path), Recursive: aws.Bool(true),
			WithDecryption: aws.Bool(true), MaxResults: aws.Int32(10), NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("GetParametersByPath %s: %w", m.cfg.Path, err)
		}
		for _, p := range page.Parameters {
			out[aws.ToString(p.Name)] = &param{name: aws.ToString(p.Name), typ: string(p.Type), value: aws.ToString(p.Value),
				dataType: aws.ToString(p.DataType), version: p.Version, modified: aws.ToTime(p.LastModifiedDate)}
		}
		if token = page.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	token = nil
	for {
		if err := limit(); err != nil {
			return nil, err
		}
		page, err := api.DescribeParameters(ctx, &ssm.DescribeParametersInput{MaxResults: aws.Int32(50), NextToken: token,
			ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{m.cfg.Path}}}})
		if err != nil {
			return nil, fmt.Errorf("DescribeParameters %s: %w", m.cfg.Path, err)
		}
		for _, d := range page.Parameters {
			if p := out[aws.ToString(d.Name)]; p != nil {
				p.description, p.pattern, p.tier, p.keyID = aws.ToString(d.Description), aws.ToString(d.AllowedPattern), string(d.Tier), aws.ToString(d.KeyId)
			}
		}
		if token = page.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	return out, nil
}

// extras reads p's tags and history: every version's value (decrypted)
// and labels.
func (m *Mirror) extras(ctx context.Context, api API, p *param, st *Stats) error {
	if st != nil {
		if err := m.wait(ctx, st); err != nil {
			return err
		}
	}
	tags, err := api.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(p.name)})
	if err != nil {
		return fmt.Errorf("ListTagsForResource %s: %w", p.name, err)
	}
	p.tags = map[string]string{}
	for _, t := range tags.TagList {
		p.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	p.history, p.labelAt = nil, map[string]int64{}
	var token *string
	for {
		if st != nil {
			if err := m.wait(ctx, st); err != nil {
				return err
			}
		}
		h, err := api.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String(p.name), MaxResults: aws.Int32(50), NextToken: token,
			WithDecryption: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("GetParameterHistory %s: %w", p.name, err)
		}
		for _, v := range h.Parameters {
			p.history = append(p.history, version{number: v.Version, typ: string(v.Type), value: aws.ToString(v.Value),
				description: aws.ToString(v.Description), pattern: aws.ToString(v.AllowedPattern), keyID: aws.ToString(v.KeyId),
				dataType: aws.ToString(v.DataType), tier: string(v.Tier)})
			for _, l := range v.Labels {
				p.labelAt[l] = v.Version
			}
		}
		if token = h.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	sort.Slice(p.history, func(i, j int) bool { return p.history[i].number < p.history[j].number })
	p.extrasRead = true
	return nil
}

// Sync makes the target match the source once.
func (m *Mirror) Sync(ctx context.Context) (Stats, error) {
	var st Stats
	full := m.runs%m.cfg.FullEvery == 0
	m.runs++
	src, err := m.read(ctx, m.cfg.Source, &st)
	if err != nil {
		return st, fmt.Errorf("mirror: source: %w", err)
	}
	st.Source = len(src)
	dst, err := m.read(ctx, m.cfg.Target, nil)
	if err != nil {
		return st, fmt.Errorf("mirror: target: %w", err)
	}
	names := slices.Sorted(maps.Keys(src))
	seen := make(map[string]stamp, len(src))
	for _, n := range names {
		s := src[n]
		seen[n] = stamp{s.version, s.modified}
		prev, known := m.seen[n]
		d := dst[n]
		if full || !known || prev != seen[n] || d == nil {
			if err := m.extras(ctx, m.cfg.Source, s, &st); err != nil {
				return st, fmt.Errorf("mirror: source: %w", err)
			}
		}
		drift := false
		current := int64(0)
		if d != nil {
			current = d.version
		}
		// copied maps source versions to the target versions this sync
		// wrote them as.
		copied := map[int64]int64{}
		var replayed []version // the older versions copied, numbered as at the target
		if d == nil && s.extrasRead {
			// A new parameter gets the source's older versions first, so
			// that the labels on them have a version to go to (and, at a
			// target that never had the name, the same numbers).
			for _, h := range s.history {
				if h.number >= s.version {
					break
				}
				v, err := m.put(ctx, h.asParam(n), len(replayed) > 0)
				st.TargetWrites++
				if err != nil {
					return st, err
				}
				copied[h.number] = v
				hv := h
				hv.number = v
				replayed = append(replayed, hv)
			}
		}
		if d == nil || d.typ != s.typ || d.value != s.value || d.description != s.description || d.pattern != s.pattern ||
			(s.tier == "Advanced" && d.tier != "Advanced") || (s.dataType != "" && d.dataType != s.dataType) {
			out, err := m.put(ctx, s, d != nil || len(replayed) > 0)
			st.TargetWrites++
			if err != nil {
				return st, err
			}
			if d == nil {
				st.Created++
			} else {
				st.Updated++
			}
			current, drift = out, true
			nd := &param{name: n, version: current, tags: map[string]string{}, labelAt: map[string]int64{}, history: replayed, extrasRead: true}
			if dd := dst[n]; dd != nil {
				if err := m.extras(ctx, m.cfg.Target, dd, nil); err != nil {
					return st, fmt.Errorf("mirror: target: %w", err)
				}
				nd.tags, nd.history, nd.labelAt = dd.tags, dd.history, dd.labelAt
			}
			nd.history = append(nd.history, version{number: current, value: s.value})
			d = nd
		}
		copied[s.version] = current
		if s.extrasRead {
			if !d.extrasRead {
				if err := m.extras(ctx, m.cfg.Target, d, nil); err != nil {
					return st, fmt.Errorf("mirror: target: %w", err)
				}
			}
			changed, err := m.syncTags(ctx, n, s.tags, d.tags, &st)
			if err != nil {
				return st, err
			}
			if changed {
				st.Tagged++
				drift = true
			}
			labeled, err := m.syncLabels(ctx, s, d, copied, &st)
			if err != nil {
				return st, err
			}
			if labeled {
				st.Labeled++
				drift = true
			}
		}
		if drift {
			st.Drift++
		} else {
			st.Unchanged++
		}
	}
	if !m.cfg.NoDelete {
		var gone []string
		for n := range dst {
			if src[n] == nil {
				gone = append(gone, n)
			}
		}
		sort.Strings(gone)
		for i := 0; i < len(gone); i += 10 {
			batch := gone[i:min(i+10, len(gone))]
			st.TargetWrites++
			if _, err := m.cfg.Target.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: batch}); err != nil {
				return st, fmt.Errorf("mirror: delete: %w", err)
			}
			st.Deleted += len(batch)
			st.Drift += len(batch)
		}
	}
	m.seen = seen
	m.log.Info("mirror sync", "path", m.cfg.Path, "stats", st.String())
	return st, nil
}

// put writes s at the target and returns the new version.
func (m *Mirror) put(ctx context.Context, s *param, exists bool) (int64, error) {
	in := &ssm.PutParameterInput{Name: aws.String(s.name), Type: types.ParameterType(s.typ), Value: aws.String(s.value), Overwrite: aws.Bool(exists)}
	if s.description != "" {
		in.Description = aws.String(s.description)
	}
	if s.pattern != "" {
		in.AllowedPattern = aws.String(s.pattern)
	}
	if s.tier == "Advanced" {
		in.Tier = types.ParameterTierAdvanced
	}
	if s.dataType != "" {
		in.DataType = aws.String(s.dataType)
	}
	if s.typ == "SecureString" {
		if k := m.MapKey(s.keyID); k != "" {
			in.KeyId = aws.String(k)
		}
	}
	out, err := m.cfg.Target.PutParameter(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("mirror: put %s: %w", s.name, err)
	}
	return out.Version, nil
}

// MapKey is the target key of a source key ("" : the target's default).
func (m *Mirror) MapKey(src string) string {
	if k, ok := m.cfg.KeyMap[src]; ok {
		return k
	}
	// AWS reports the key of a SecureString as an alias or an ARN: match
	// the alias or key ID at the end of an ARN too.
	if i := strings.LastIndex(src, ":"); i >= 0 {
		tail := src[i+1:]
		if k, ok := m.cfg.KeyMap[tail]; ok {
			return k
		}
		if j := strings.Index(tail, "/"); j >= 0 && strings.HasPrefix(tail, "key/") {
			if k, ok := m.cfg.KeyMap[tail[j+1:]]; ok {
				return k
			}
		}
	}
	return ""
}

// syncLabels puts each label of the source on the target version that
// holds its version: the one this sync copied it as, else the newest with
// the same value. A label on a version the target never held (older than
// the first sync, its value since overwritten) has nowhere to go: it is
// counted in Stats.LabelsUnplaced.
func (m *Mirror) syncLabels(ctx context.Context, s, d *param, copied map[int64]int64, st *Stats) (bool, error) {
	missing := map[int64][]string{}
	for _, l := range slices.Sorted(maps.Keys(s.labelAt)) {
		sv := s.labelAt[l]
		tv, ok := copied[sv]
		if !ok {
			for _, h := range s.history {
				if h.number == sv {
					tv = d.newestWithValue(h.value)
				}
			}
		}
		if tv == 0 {
			st.LabelsUnplaced++
			continue
		}
		if d.labelAt[l] != tv {
			missing[tv] = append(missing[tv], l)
		}
	}
	for _, tv := range slices.Sorted(maps.Keys(missing)) {
		st.TargetWrites++
		if _, err := m.cfg.Target.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String(s.name), ParameterVersion: aws.Int64(tv), Labels: missing[tv]}); err != nil {
			return false, fmt.Errorf("mirror: label %s: %w", s.name, err)
		}
	}
	return len(missing) > 0, nil
}

func (m *Mirror) syncTags(ctx context.Context, name string, want, have map[string]string, st *Stats) (bool, error) {
	var add []types.Tag
	var remove []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := have[k]; !ok || v != want[k] {
			add = append(add, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	if len(add) > 0 {
		st.TargetWrites++
		if _, err := m.cfg.Target.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(name), Tags: add}); err != nil {
			return false, fmt.Errorf("mirror: tag %s: %w", name, err)
		}
	}
	if len(remove) > 0 {
		st.TargetWrites++
		if _, err := m.cfg.Target.RemoveTagsFromResource(ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(name), TagKeys: remove}); err != nil {
			return false, fmt.Errorf("mirror: untag %s: %w", name, err)
		}
	}
	return len(add)+len(remove) > 0, nil
}
