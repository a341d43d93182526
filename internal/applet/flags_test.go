package applet

import (
	"strings"
	"testing"
	"time"
)

// Every duration is in range or an error: NaN, infinities and overflow
// never become 0 or negative (which read as "default" or "no timeout").
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90":                    90 * time.Second,
		"0.5":                   500 * time.Millisecond,
		"0":                     0,
		"2m":                    2 * time.Minute,
		"1e9":                   1e9 * time.Second,
		"292y":                  -1, // not a Go unit
		"NaN":                   -1,
		"nan":                   -1,
		"inf":                   -1,
		"+Inf":                  -1,
		"-inf":                  -1,
		"1e300":                 -1,
		"1e400":                 -1,
		"-1":                    -1,
		"-1s":                   -1,
		"1e10":                  -1, // 317 years of seconds
		"9223372036854775808":   -1,
		"9223372036854775807ns": 1<<63 - 1,
		"9223372036854775808ns": -1,
	} {
		got, err := ParseDuration(in)
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), in) {
				t.Errorf("ParseDuration(%q) = %v, %v; want an error naming it", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
