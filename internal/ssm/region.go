package ssm

import (
	"regexp"
	"slices"
)

// regions is the one table of the AWS regions this server accepts as
// tenancies, with the partition of each: the regions of every partition
// that botocore 1.43 and aws-sdk-go-v2 list (endpoints.json and
// partitions.json), without the pseudo-regions aws-global and fips-*,
// which are endpoint names, not signing regions. A region added by AWS
// later is one line here; until then `paramstore server --region-allow`
// accepts it.
var regions = map[string]string{
	// aws
	"af-south-1":     "aws",
	"ap-east-1":      "aws",
	"ap-east-2":      "aws",
	"ap-northeast-1": "aws",
	"ap-northeast-2": "aws",
	"ap-northeast-3": "aws",
	"ap-south-1":     "aws",
	"ap-south-2":     "aws",
	"ap-southeast-1": "aws",
	"ap-southeast-2": "aws",
	"ap-southeast-3": "aws",
	"ap-southeast-4": "aws",
	"ap-southeast-5": "aws",
	"ap-southeast-6": "aws",
	"ap-southeast-7": "aws",
	"ca-central-1":   "aws",
	"ca-west-1":      "aws",
	"eu-central-1":   "aws",
	"eu-central-2":   "aws",
	"eu-north-1":     "aws",
	"eu-south-1":     "aws",
	"eu-south-2":     "aws",
	"eu-west-1":      "aws",
	"eu-west-2":      "aws",
	"eu-west-3":      "aws",
	"il-central-1":   "aws",
	"me-central-1":   "aws",
	"me-south-1":     "aws",
	"mx-central-1":   "aws",
	"sa-east-1":      "aws",
	"us-east-1":      "aws",
	"us-east-2":      "aws",
	"us-west-1":      "aws",
	"us-west-2":      "aws",
	// aws-cn
	"cn-north-1":     "aws-cn",
	"cn-northwest-1": "aws-cn",
	// aws-us-gov
	"us-gov-east-1": "aws-us-gov",
	"us-gov-west-1": "aws-us-gov",
	// aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
	"us-iso-east-1":   "aws-iso",
	"us-iso-west-1":   "aws-iso",
	"us-isob-east-1":  "aws-iso-b",
	"us-isob-west-1":  "aws-iso-b",
	"eu-isoe-west-1":  "aws-iso-e",
	"us-isof-east-1":  "aws-iso-f",
	"us-isof-south-1": "aws-iso-f",
	// aws-eusc (European Sovereign Cloud)
	"eusc-de-east-1": "aws-eusc",
}

// partitionPatterns name the partition of a region that is not in the
// table (one allowed with --region-allow), by the region patterns of the
// SDKs' partitions.json; anything else is in "aws".
var partitionPatterns = []struct {
	re        *regexp.Regexp
	partition string
}{
	{regexp.MustCompile(`^cn-\w+-\d+$`), "aws-cn"},
	{regexp.MustCompile(`^us-gov-\w+-\d+$`), "aws-us-gov"},
	{regexp.MustCompile(`^us-iso-\w+-\d+$`), "aws-iso"},
	{regexp.MustCompile(`^us-isob-\w+-\d+$`), "aws-iso-b"},
	{regexp.MustCompile(`^eu-isoe-\w+-\d+$`), "aws-iso-e"},
	{regexp.MustCompile(`^us-isof-\w+-\d+$`), "aws-iso-f"},
	{regexp.MustCompile(`^eusc-(de)-\w+-\d+$`), "aws-eusc"},
}

// KnownRegion reports whether region is an AWS region of the table.
func KnownRegion(region string) bool {
	_, ok := regions[region]
	return ok
}

// Regions returns the regions of the table, sorted.
func Regions() []string {
	out := make([]string, 0, len(regions))
	for r := range regions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Partition returns the ARN partition of a region.
func Partition(region string) string {
	if p, ok := regions[region]; ok {
		return p
	}
	for _, pp := range partitionPatterns {
		if pp.re.MatchString(region) {
			return pp.partition
		}
	}
	return "aws"
}

// regionNameRe is what a region named by an operator must look like: it
// becomes part of ARNs and of the tenancy's storage key.
var regionNameRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidRegionName reports whether name can be used as a region: lower-case
// letters and digits in hyphen-separated words, at most 50 characters.
func ValidRegionName(name string) bool {
	return len(name) <= 50 && regionNameRe.MatchString(name)
}
