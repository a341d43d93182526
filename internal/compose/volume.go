package compose

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// parseVolume parses a short-syntax service volume
// ("data:/var/lib/x:ro", "./conf:/etc/x", "/tmp/x") as docker's
// loader.ParseVolume does: source, target, then options (ro, rw, nocopy,
// a bind propagation; others ignored); the type is bind when the source
// is a path (., /, ~, a Windows drive or pipe), else volume.
func parseVolume(spec string) (composetypes.ServiceVolumeConfig, error) {
	var v composetypes.ServiceVolumeConfig
	switch len(spec) {
	case 0:
		return v, errors.New("invalid empty volume spec")
	case 1, 2:
		v.Target = spec
		v.Type = "volume"
		return v, nil
	}
	var buf []rune
	const end = rune(0)
	for _, c := range spec + string(end) {
		switch {
		case isWindowsDrive(buf, c):
			buf = append(buf, c)
		case c == ':' || c == end:
			if err := volumeField(c == end, buf, &v); err != nil {
				return v, fmt.Errorf("invalid spec: %s: %v", spec, err)
			}
			buf = buf[:0]
		default:
			buf = append(buf, c)
		}
	}
	switch {
	case v.Source == "":
		v.Type = "volume"
	case isFilePath(v.Source):
		v.Type = "bind"
	default:
		v.Type = "volume"
	}
	return v, nil
}

func isWindowsDrive(buf []rune, c rune) bool {
	return c == ':' && len(buf) == 1 && unicode.IsLetter(buf[0])
}

func volumeField(atEnd bool, buf []rune, v *composetypes.ServiceVolumeConfig) error {
	s := string(buf)
	switch {
	case len(buf) == 0:
		return errors.New("empty section between colons")
	case v.Source == "" && atEnd:
		v.Target = s
		return nil
	case v.Source == "":
		v.Source = s
		return nil
	case v.Target == "":
		v.Target = s
		return nil
	case !atEnd:
		return errors.New("too many colons")
	}
	for _, o := range strings.Split(s, ",") {
		switch o {
		case "ro":
			v.ReadOnly = true
		case "rw":
			v.ReadOnly = false
		case "nocopy":
			v.Volume = &composetypes.ServiceVolumeVolume{NoCopy: true}
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			v.Bind = &composetypes.ServiceVolumeBind{Propagation: o}
		}
	}
	return nil
}

func isFilePath(source string) bool {
	switch source[0] {
	case '.', '/', '~':
		return true
	}
	if utf8.RuneCountInString(source) == 1 {
		return false
	}
	if strings.HasPrefix(source, `\\`) {
		return true
	}
	first, next := utf8.DecodeRuneInString(source)
	return isWindowsDrive([]rune{first}, rune(source[next]))
}
