package ssm

import (
	"regexp"
	"strconv"
	"time"
)

// Parameter types, tiers and data types (spec §9, §10).
const (
	TypeString       = "String"
	TypeStringList   = "StringList"
	TypeSecureString = "SecureString"

	TierStandard     = "Standard"
	TierAdvanced     = "Advanced"
	TierIntelligent  = "Intelligent-Tiering"
	DataTypeText     = "text"
	DataTypeEC2Image = "aws:ec2:image"
	DataTypeSSMInteg = "aws:ssm:integration"

	DefaultKeyAlias = "alias/aws/ssm"
)

var (
	tagPatternSrc   = `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`
	tagPattern      = regexp.MustCompile(tagPatternSrc)
	keyIDPatternSrc = `^([a-zA-Z0-9:/_-]+)$`
	keyIDPattern    = regexp.MustCompile(keyIDPatternSrc)
	filterKeySrc    = `tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType`
	filterKeyRe     = regexp.MustCompile(`^(?:` + filterKeySrc + `)$`)
)

// Timestamp is encoded as a JSON number of epoch seconds with millisecond
// precision (spec §3.3).
type Timestamp time.Time

// MarshalJSON writes seconds with three decimals.
func (t Timestamp) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// AppendJSON appends what MarshalJSON returns.
func (t Timestamp) AppendJSON(b []byte) []byte {
	return strconv.AppendFloat(b, float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64)
}

// TimestampMillis converts epoch milliseconds.
func TimestampMillis(ms int64) Timestamp { return Timestamp(time.UnixMilli(ms)) }

// Tag is a key/value pair on a parameter.
type Tag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

// validateTags checks a TagList member.
func validateTags(vs *Violations, path string, tags []Tag, present bool) {
	if present && len(tags) > 1000 {
		vs.add("'[...]'", path, "Member must have length less than or equal to 1000")
	}
	for i, t := range tags {
		p := path + "." + strconv.Itoa(i+1) + ".member."
		if vs.Required(p+"key", t.Key != nil) {
			vs.Len(p+"key", t.Key, 1, 128)
			vs.Pattern(p+"key", t.Key, tagPattern, tagPatternSrc)
		}
		if vs.Required(p+"value", t.Value != nil) {
			vs.Len(p+"value", t.Value, 0, 256)
			vs.Pattern(p+"value", t.Value, tagPattern, tagPatternSrc)
		}
	}
}

// ParameterStringFilter is a filter of DescribeParameters/GetParametersByPath.
type ParameterStringFilter struct {
	Key    *string  `json:"Key"`
	Option *string  `json:"Option"`
	Values []string `json:"Values"`
}

func validateStringFilters(vs *Violations, fs []ParameterStringFilter) {
	for i, f := range fs {
		p := "parameterFilters." + strconv.Itoa(i+1) + ".member."
		if vs.Required(p+"key", f.Key != nil) {
			vs.Len(p+"key", f.Key, 1, 132)
			vs.Pattern(p+"key", f.Key, filterKeyRe, filterKeySrc)
		}
		vs.Len(p+"option", f.Option, 1, 10)
		vs.ListLen(p+"values", f.Values, f.Values != nil, 1, 50)
		vs.ElemLen(p+"values", f.Values, 1, 1024)
	}
}

// ParametersFilter is the deprecated filter of DescribeParameters.
type ParametersFilter struct {
	Key    *string  `json:"Key"`
	Values []string `json:"Values"`
}

// PutParameterInput is the request of PutParameter.
type PutParameterInput struct {
	Name           *string `json:"Name"`
	Description    *string `json:"Description"`
	Value          *string `json:"Value"`
	Type           *string `json:"Type"`
	KeyId          *string `json:"KeyId"`
	Overwrite      *bool   `json:"Overwrite"`
	AllowedPattern *string `json:"AllowedPattern"`
	Tags           []Tag   `json:"Tags"`
	Tier           *string `json:"Tier"`
	Policies       *string `json:"Policies"`
	DataType       *string `json:"DataType"`
}

// MaxValueLength is the hidden framework cap on values (spec §5).
const MaxValueLength = 32768

// Validate applies the model constraints.
func (in *PutParameterInput) Validate() *Error {
	var vs Violations
	if vs.Required("name", in.Name != nil) {
		vs.Len("name", in.Name, 1, maxNameLength)
	}
	vs.Len("description", in.Description, 0, 1024)
	if vs.Required("value", in.Value != nil) {
		vs.SensitiveLen("value", in.Value, 1, MaxValueLength)
	}
	vs.Enum("type", in.Type, TypeSecureString, TypeStringList, TypeString)
	vs.Len("keyId", in.KeyId, 1, 256)
	vs.Pattern("keyId", in.KeyId, keyIDPattern, keyIDPatternSrc)
	vs.Len("allowedPattern", in.AllowedPattern, 0, 1024)
	validateTags(&vs, "tags", in.Tags, in.Tags != nil)
	vs.Enum("tier", in.Tier, TierStandard, TierAdvanced, TierIntelligent)
	vs.Len("policies", in.Policies, 1, 4096)
	vs.Len("dataType", in.DataType, 0, 128)
	return vs.Err()
}

// PutParameterOutput is the response of PutParameter.
type PutParameterOutput struct {
	Version int64  `json:"Version"`
	Tier    string `json:"Tier"`
}

// GetParameterInput is the request of GetParameter.
type GetParameterInput struct {
	Name           *string `json:"Name"`
	WithDecryption *bool   `json:"WithDecryption"`
}

// Validate applies the model constraints.
func (in *GetParameterInput) Validate() *Error {
	var vs Violations
	if vs.Required("name", in.Name != nil) {
		vs.Len("name", in.Name, 1, maxNameLength)
	}
	return vs.Err()
}

// Parameter is one parameter value in Get* responses.
type Parameter struct {
	Name             string     `json:"Name"`
	Type             string     `json:"Type"`
	Value            string     `json:"Value"`
	Version          int64      `json:"Version"`
	Selector         string     `json:"Selector,omitempty"`
	SourceResult     string     `json:"SourceResult,omitempty"`
	LastModifiedDate *Timestamp `json:"LastModifiedDate,omitempty"`
	ARN              string     `json:"ARN"`
	DataType         string     `json:"DataType"`
}

// GetParameterOutput is the response of GetParameter.
type GetParameterOutput struct {
	Parameter *Parameter `json:"Parameter"`
}

// GetParametersInput is the request of GetParameters.
type GetParametersInput struct {
	Names          []string `json:"Names"`
	WithDecryption *bool    `json:"WithDecryption"`
}

// Validate applies the model constraints.
func (in *GetParametersInput) Validate() *Error {
	var vs Violations
	if vs.Required("names", in.Names != nil) {
		vs.ListLen("names", in.Names, true, 1, 10)
		vs.ElemLen("names", in.Names, 1, maxNameLength)
	}
	return vs.Err()
}

// GetParametersOutput is the response of GetParameters.
type GetParametersOutput struct {
	Parameters        []Parameter `json:"Parameters"`
	InvalidParameters []string    `json:"InvalidParameters"`
}

// GetParametersByPathInput is the request of GetParametersByPath.
type GetParametersByPathInput struct {
	Path             *string                 `json:"Path"`
	Recursive        *bool                   `json:"Recursive"`
	ParameterFilters []ParameterStringFilter `json:"ParameterFilters"`
	WithDecryption   *bool                   `json:"WithDecryption"`
	MaxResults       *int64                  `json:"MaxResults"`
	NextToken        *string                 `json:"NextToken"`
}

// Validate applies the model constraints.
func (in *GetParametersByPathInput) Validate() *Error {
	var vs Violations
	if vs.Required("path", in.Path != nil) {
		vs.Len("path", in.Path, 1, maxNameLength)
	}
	validateStringFilters(&vs, in.ParameterFilters)
	vs.Range("maxResults", in.MaxResults, 1, 10)
	return vs.Err()
}

// GetParametersByPathOutput is the response of GetParametersByPath.
type GetParametersByPathOutput struct {
	Parameters []Parameter `json:"Parameters"`
	NextToken  string      `json:"NextToken,omitempty"`
}

// GetParameterHistoryInput is the request of GetParameterHistory.
type GetParameterHistoryInput struct {
	Name           *string `json:"Name"`
	WithDecryption *bool   `json:"WithDecryption"`
	MaxResults     *int64  `json:"MaxResults"`
	NextToken      *string `json:"NextToken"`
}

// Validate applies the model constraints.
func (in *GetParameterHistoryInput) Validate() *Error {
	var vs Violations
	if vs.Required("name", in.Name != nil) {
		vs.Len("name", in.Name, 1, maxNameLength)
	}
	vs.Range("maxResults", in.MaxResults, 1, 50)
	return vs.Err()
}

// ParameterInlinePolicy describes one parameter policy.
type ParameterInlinePolicy struct {
	PolicyText   string `json:"PolicyText"`
	PolicyType   string `json:"PolicyType"`
	PolicyStatus string `json:"PolicyStatus"`
}

// ParameterHistory is one version in GetParameterHistory.
type ParameterHistory struct {
	Name             string                  `json:"Name"`
	Type             string                  `json:"Type"`
	KeyId            string                  `json:"KeyId,omitempty"`
	LastModifiedDate Timestamp               `json:"LastModifiedDate"`
	LastModifiedUser string                  `json:"LastModifiedUser"`
	Description      string                  `json:"Description,omitempty"`
	Value            string                  `json:"Value"`
	AllowedPattern   string                  `json:"AllowedPattern,omitempty"`
	Version          int64                   `json:"Version"`
	Labels           []string                `json:"Labels"`
	Tier             string                  `json:"Tier"`
	Policies         []ParameterInlinePolicy `json:"Policies"`
	DataType         string                  `json:"DataType"`
}

// GetParameterHistoryOutput is the response of GetParameterHistory.
type GetParameterHistoryOutput struct {
	Parameters []ParameterHistory `json:"Parameters"`
	NextToken  string             `json:"NextToken,omitempty"`
}

// DescribeParametersInput is the request of DescribeParameters.
type DescribeParametersInput struct {
	Filters          []ParametersFilter      `json:"Filters"`
	ParameterFilters []ParameterStringFilter `json:"ParameterFilters"`
	MaxResults       *int64                  `json:"MaxResults"`
	NextToken        *string                 `json:"NextToken"`
	Shared           *bool                   `json:"Shared"`
}

// Validate applies the model constraints.
func (in *DescribeParametersInput) Validate() *Error {
	var vs Violations
	for i, f := range in.Filters {
		p := "filters." + strconv.Itoa(i+1) + ".member."
		if vs.Required(p+"key", f.Key != nil) {
			vs.Enum(p+"key", f.Key, "Name", "Type", "KeyId")
		}
		if vs.Required(p+"values", f.Values != nil) {
			vs.ListLen(p+"values", f.Values, true, 1, 50)
			vs.ElemLen(p+"values", f.Values, 1, 1024)
		}
	}
	validateStringFilters(&vs, in.ParameterFilters)
	vs.Range("maxResults", in.MaxResults, 1, 50)
	return vs.Err()
}

// ParameterMetadata is one item of DescribeParameters.
type ParameterMetadata struct {
	Name             string                  `json:"Name"`
	ARN              string                  `json:"ARN"`
	Type             string                  `json:"Type"`
	KeyId            string                  `json:"KeyId,omitempty"`
	LastModifiedDate Timestamp               `json:"LastModifiedDate"`
	LastModifiedUser string                  `json:"LastModifiedUser"`
	Description      string                  `json:"Description,omitempty"`
	AllowedPattern   string                  `json:"AllowedPattern,omitempty"`
	Version          int64                   `json:"Version"`
	Tier             string                  `json:"Tier"`
	Policies         []ParameterInlinePolicy `json:"Policies"`
	DataType         string                  `json:"DataType"`
}

// DescribeParametersOutput is the response of DescribeParameters.
type DescribeParametersOutput struct {
	Parameters []ParameterMetadata `json:"Parameters"`
	NextToken  string              `json:"NextToken,omitempty"`
}

// NameInput is the request of DeleteParameter.
type NameInput struct {
	Name *string `json:"Name"`
}

// Validate applies the model constraints.
func (in *NameInput) Validate() *Error {
	var vs Violations
	if vs.Required("name", in.Name != nil) {
		vs.Len("name", in.Name, 1, maxNameLength)
	}
	return vs.Err()
}

// NamesInput is the request of DeleteParameters.
type NamesInput struct {
	Names []string `json:"Names"`
}

// Validate applies the model constraints.
func (in *NamesInput) Validate() *Error {
	var vs Violations
	if vs.Required("names", in.Names != nil) {
		vs.ListLen("names", in.Names, true, 1, 10)
		vs.ElemLen("names", in.Names, 1, maxNameLength)
	}
	return vs.Err()
}

// DeleteParametersOutput is the response of DeleteParameters.
type DeleteParametersOutput struct {
	DeletedParameters []string `json:"DeletedParameters"`
	InvalidParameters []string `json:"InvalidParameters"`
}

// LabelInput is the request of Label/UnlabelParameterVersion.
type LabelInput struct {
	Name             *string  `json:"Name"`
	ParameterVersion *int64   `json:"ParameterVersion"`
	Labels           []string `json:"Labels"`
}

// Validate applies the model constraints; versionRequired is true for Unlabel.
func (in *LabelInput) Validate(versionRequired bool) *Error {
	var vs Violations
	if vs.Required("name", in.Name != nil) {
		vs.Len("name", in.Name, 1, maxNameLength)
	}
	if versionRequired {
		vs.Required("parameterVersion", in.ParameterVersion != nil)
	}
	if vs.Required("labels", in.Labels != nil) {
		vs.ListLen("labels", in.Labels, true, 1, 10)
		vs.ElemLen("labels", in.Labels, 1, 100)
	}
	return vs.Err()
}

// LabelOutput is the response of LabelParameterVersion.
type LabelOutput struct {
	InvalidLabels    []string `json:"InvalidLabels"`
	ParameterVersion int64    `json:"ParameterVersion"`
}

// UnlabelOutput is the response of UnlabelParameterVersion.
type UnlabelOutput struct {
	RemovedLabels []string `json:"RemovedLabels"`
	InvalidLabels []string `json:"InvalidLabels"`
}

// TagsInput is the request of the three tagging operations.
type TagsInput struct {
	ResourceType *string  `json:"ResourceType"`
	ResourceId   *string  `json:"ResourceId"`
	Tags         []Tag    `json:"Tags"`
	TagKeys      []string `json:"TagKeys"`
}

// Validate applies the model constraints. op is "add", "remove" or "list".
func (in *TagsInput) Validate(op string) *Error {
	var vs Violations
	if vs.Required("resourceType", in.ResourceType != nil) {
		vs.Enum("resourceType", in.ResourceType, "Document", "ManagedInstance", "MaintenanceWindow",
			"Parameter", "PatchBaseline", "OpsItem", "OpsMetadata", "Automation", "Association")
	}
	vs.Required("resourceId", in.ResourceId != nil)
	switch op {
	case "add":
		if vs.Required("tags", in.Tags != nil) {
			validateTags(&vs, "tags", in.Tags, true)
		}
	case "remove":
		if vs.Required("tagKeys", in.TagKeys != nil) {
			vs.ElemLenPattern("tagKeys", in.TagKeys, 1, 128, tagPattern, tagPatternSrc)
		}
	}
	return vs.Err()
}

// TagPair is a tag in ListTagsForResource output.
type TagPair struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// ListTagsOutput is the response of ListTagsForResource.
type ListTagsOutput struct {
	TagList []TagPair `json:"TagList"`
}

// SettingInput is the request of the service-setting operations.
type SettingInput struct {
	SettingId    *string `json:"SettingId"`
	SettingValue *string `json:"SettingValue"`
}

// Validate applies the model constraints; update is true for Update.
func (in *SettingInput) Validate(update bool) *Error {
	var vs Violations
	if vs.Required("settingId", in.SettingId != nil) {
		vs.Len("settingId", in.SettingId, 1, 1000)
	}
	if update && vs.Required("settingValue", in.SettingValue != nil) {
		vs.Len("settingValue", in.SettingValue, 1, 4096)
	}
	return vs.Err()
}

// ServiceSetting is a Parameter Store service setting.
type ServiceSetting struct {
	SettingId        string    `json:"SettingId"`
	SettingValue     string    `json:"SettingValue"`
	LastModifiedDate Timestamp `json:"LastModifiedDate"`
	LastModifiedUser string    `json:"LastModifiedUser"`
	ARN              string    `json:"ARN"`
	Status           string    `json:"Status"`
}

// ServiceSettingOutput is the response of Get/ResetServiceSetting.
type ServiceSettingOutput struct {
	ServiceSetting ServiceSetting `json:"ServiceSetting"`
}

// Empty is the response of operations with an empty output shape.
type Empty struct{}
