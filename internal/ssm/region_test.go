package ssm

import "testing"

func TestPartition(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-east-1", "aws"},
		{"cn-northwest-1", "aws-cn"},
		{"us-gov-west-1", "aws-us-gov"},
		{"us-iso-east-1", "aws-iso"},
		{"us-isob-east-1", "aws-iso-b"},
		{"eu-isoe-west-1", "aws-iso-e"},
		{"us-isof-south-1", "aws-iso-f"},
		{"eusc-de-east-1", "aws-eusc"},
		// Not in the table (allowed with --region-allow): by pattern.
		{"cn-south-9", "aws-cn"},
		{"us-isof-north-2", "aws-iso-f"},
		{"onprem", "aws"},
	}
	for _, tt := range tests {
		if got := Partition(tt.region); got != tt.want {
			t.Errorf("Partition(%q) = %q, want %q", tt.region, got, tt.want)
		}
	}
}

func TestValidRegionName(t *testing.T) {
	for name, want := range map[string]bool{
		"xx-lab-1": true, "onprem": true, "a1": true,
		"": false, "Bad_Region": false, "us-east-1-": false, "-x": false, "a--b": false,
		"us:east": false, "x y": false, "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij": false,
	} {
		if got := ValidRegionName(name); got != want {
			t.Errorf("ValidRegionName(%q) = %v, want %v", name, got, want)
		}
	}
}
