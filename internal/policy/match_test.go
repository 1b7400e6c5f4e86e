package policy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"**", "x", true},
		{"?", "", false},
		{"?", "a", true},
		{"?", "ab", false},
		{"?", "é", true},
		{"??", "é", false},
		{"a*", "a", true},
		{"a*", "ba", false},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "a-b-b-c", true},
		{"a*b*c", "a-c-b", false},
		{"a*b?c", "axxbyc", true},
		{"a*b?c", "axxbc", false},
		{"*/prod/*", "parameter/app/prod/db", true},
		{"*/prod/*", "parameter/app/production/db", false},
		{"parameter/*", "parameter/a/b:c", true},
		{"a?*?b", "a12b", true},
		{"a?*?b", "a1b", false},
		{"*ab", "aab", true},
		{"*aab", "aaab", true},
		{"*a*a*a", "aaa", true},
		{"*a*a*a", "aa", false},
		{"x*€?", "x€€", true},
		{"*??", "€", false},
		{"a*", "a\xff", true},
		{"*\xe2", "\xe2\x82\xac", false},
		{"?\x82\xac", "\xe2\x82\xac", false},
		{"\xe2*", "\xe2\x82\xac", false},
		{"\xe2*", "\xe2\xff", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.s, func(t *testing.T) {
			if got := matchGlob(tt.pattern, tt.s); got != tt.want {
				t.Errorf("matchGlob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
			if got := refMatch(tt.pattern, tt.s); got != tt.want {
				t.Errorf("refMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestMatchVariables(t *testing.T) {
	many := strings.Repeat("${aws:username}/", 20) // more tokens than fit on the stack
	tests := []struct {
		name, pattern, s string
		ctx              map[string][]string
		want             bool
	}{
		{"resolved", "home/${aws:username}/*", "home/alice/x", ctx("aws:username", "alice"), true},
		{"resolved key case", "home/${AWS:UserName}/*", "home/alice/x", ctx("aws:username", "alice"), true},
		{"empty value", "home/${aws:username}/*", "home//x", ctx("aws:username", ""), true},
		{"missing", "home/${aws:username}/*", "home//x", nil, false},
		{"multi-valued", "home/${aws:username}/*", "home/a/x", ctx("aws:username", "a", "aws:username", "b"), false},
		{"default", "home/${aws:username, 'anon'}/*", "home/anon/x", nil, true},
		{"default with spaces", "home/${ aws:username ,  'a b' }", "home/a b", nil, true},
		{"default ignored when present", "home/${aws:username, 'anon'}", "home/anon", ctx("aws:username", "alice"), false},
		{"value is literal", "home/${aws:username}", "home/x", ctx("aws:username", "?"), false},
		{"value with star matches itself", "home/${aws:username}", "home/*", ctx("aws:username", "*"), true},
		{"many tokens", many, strings.Repeat("al/", 20), ctx("aws:username", "al"), true},
		{"many tokens mismatch", many, strings.Repeat("al/", 19) + "bo/", ctx("aws:username", "al"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compilePattern(tt.pattern, compileOptions{wildcards: true, variables: true})
			if err != nil {
				t.Fatalf("compilePattern(%q): %v", tt.pattern, err)
			}
			if got := p.match(tt.s, tt.ctx); got != tt.want {
				t.Errorf("match(%q, %q, %v) = %v, want %v", tt.pattern, tt.s, tt.ctx, got, tt.want)
			}
		})
	}
}

// units splits s into characters as the matcher sees them: valid UTF-8
// sequences, or single bytes of invalid ones.
func units(s string) []string {
	var out []string
	for len(s) > 0 {
		_, w := utf8.DecodeRuneInString(s)
		out = append(out, s[:w])
		s = s[w:]
	}
	return out
}

// refMatch is a deliberately simple reference matcher: a dynamic program
// over characters of the pattern and the input.
func refMatch(pattern, s string) bool { return refMatchFold(pattern, s, false) }

// refMatchFold is refMatch, folding ASCII letters of both sides if fold.
func refMatchFold(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = refLower(pattern), refLower(s)
	}
	p, in := units(pattern), units(s)
	// m[j] reports whether p[:i] matches in[:j], for the current i.
	m := make([]bool, len(in)+1)
	m[0] = true
	for _, pc := range p {
		next := make([]bool, len(in)+1)
		for j := 0; j <= len(in); j++ {
			switch pc {
			case "*":
				next[j] = m[j] || (j > 0 && next[j-1])
			case "?":
				next[j] = j > 0 && m[j-1]
			default:
				next[j] = j > 0 && m[j-1] && in[j-1] == pc
			}
		}
		m = next
	}
	return m[len(in)]
}

// refLower lower-cases ASCII letters byte by byte.
func refLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestMatchFold(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"ssm:GetParameter", "SSM:getparameter", true},
		{"SSM:Get*", "ssm:getParameters", true},
		{"ssm:*Parameter", "ssm:PUTPARAMETER", true},
		{"ssm:?etParameter", "ssm:GetParameter", true},
		{"ssm:GetParameter", "ssm:GetParameters", false},
		{"ssm:key", "ssm:\u212aey", false},  // Kelvin sign is not ASCII K
		{"ssm:\u00c9", "ssm:\u00e9", false}, // only ASCII letters fold
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.s, func(t *testing.T) {
			p, err := compilePattern(tt.pattern, compileOptions{wildcards: true, fold: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(tt.s, nil); got != tt.want {
				t.Errorf("fold match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	seeds := [][2]string{
		{"arn:aws:ssm:*:*:parameter/app/prod/*", "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/db"},
		{"a*b?c*", "aXbYcZ"},
		{"*a*a*a", "aaaa"},
		{"x*€?", "x€€"},
		{"*??", "€"},
		{"*\xe2", "\xe2\x82\xac"},
		{"?*?", "\xff\xfe"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], false)
	}
	f.Add("SSM:Get*", "ssm:getParameters", true)
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if len(pattern) > 64 || len(s) > 256 {
			return // keep the quadratic reference fast
		}
		p, err := compilePattern(pattern, compileOptions{wildcards: true, fold: fold})
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", pattern, err)
		}
		got, want := p.match(s, nil), refMatchFold(pattern, s, fold)
		if got != want {
			t.Errorf("match(%q, %q, fold=%v) = %v, reference says %v", pattern, s, fold, got, want)
		}
	})
}
