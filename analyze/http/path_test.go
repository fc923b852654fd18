package httpanalyze

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range pathCases {
		got, err := NormalizePath(tc.raw)
		if tc.err != "" {
			var pe *PathError
			if err == nil || !errors.As(err, &pe) || !strings.Contains(pe.Reason, tc.err) {
				t.Errorf("NormalizePath(%q) = %q, %v; want error %q", tc.raw, got, err, tc.err)
				continue
			}
			if pe.Start < 0 || pe.Start > pe.End || pe.End > len(tc.raw) {
				t.Errorf("NormalizePath(%q): error range %d..%d outside the path", tc.raw, pe.Start, pe.End)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			continue
		}
		if again, err := NormalizePath(got); err != nil || again != got {
			t.Errorf("NormalizePath(%q) = %q, %v: not idempotent", got, again, err)
		}
	}
}

func TestPathErrorOffsets(t *testing.T) {
	cases := map[string]string{
		"/ok/a%2Fb":       "%2F",
		"/x/%2e%2e/admin": "%2e%2e",
		"/a%zz":           "%zz",
		`/a\b`:            `\`,
		"/p/..;x/q":       "..;x",
	}
	for raw, want := range cases {
		_, err := NormalizePath(raw)
		pe, ok := err.(*PathError)
		if !ok {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := raw[pe.Start:pe.End]; got != want {
			t.Errorf("%q: error at %q, want %q", raw, got, want)
		}
	}
}
