package swarm

import (
	"regexp"
	"strings"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
)

// forCreate is spec as `docker stack deploy` (through the moby client)
// sends it: the image reference in its familiar form with ":latest" when
// it names no tag or digest, so that the engine records, and `docker
// service ls` shows, what it always did (TestImageWithTag).
func forCreate(spec swarm.ServiceSpec) swarm.ServiceSpec {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		c := *cs
		if img := imageWithTag(c.Image); img != "" {
			c.Image = img
		}
		spec.TaskTemplate.ContainerSpec = &c
	}
	return spec
}

// referencePattern is distribution/reference's grammar for a normalized
// reference: (domain/)path(:tag)(@digest). It is compiled when a service
// is created, not at init: init runs on every ccci call.
const referencePattern = `^((?:` + domainPattern + `/)?` + pathPattern + `)` +
	`(?::([\w][\w.-]{0,127}))?` +
	`(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}))?$`

const (
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainPattern   = `(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	pathPattern     = pathComponent + `(?:/` + pathComponent + `)*`
)

// imageWithTag is distribution/reference's
// FamiliarString(TagNameOnly(ParseNormalizedNamed(image))): "nginx" →
// "nginx:latest", "docker.io/library/nginx:1" → "nginx:1"; "" when image
// is not a valid reference (then it is sent as written).
func imageWithTag(image string) string {
	if regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(image) {
		return "" // an image id, not a name
	}
	// Split off the registry domain as the docker CLI does: a first
	// component is a domain when it has a dot or port, is localhost, or
	// has capitals.
	domain, rest := "docker.io", image
	if i := strings.IndexByte(image, '/'); i >= 0 {
		first := image[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			domain, rest = first, image[i+1:]
		}
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	if remote, _, _ := strings.Cut(rest, ":"); strings.ToLower(remote) != remote {
		return ""
	}
	m := regexp.MustCompile(referencePattern).FindStringSubmatch(domain + "/" + rest)
	if m == nil || len(m[1]) > 255 {
		return ""
	}
	name, tag, digest := m[1], m[2], m[3]
	if digest != "" && !validDigest(digest) {
		return ""
	}
	// The familiar name: without docker.io/, and without library/ for
	// an official image.
	if r, ok := strings.CutPrefix(name, "docker.io/"); ok {
		name = r
		if r, ok := strings.CutPrefix(name, "library/"); ok && !strings.Contains(r, "/") {
			name = r
		}
	}
	if tag == "" && digest == "" {
		tag = "latest"
	}
	if tag != "" {
		name += ":" + tag
	}
	if digest != "" {
		name += "@" + digest
	}
	return name
}

// validDigest is go-digest's check: a known algorithm and its length of
// lower-case hex.
func validDigest(d string) bool {
	alg, hex, _ := strings.Cut(d, ":")
	n := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[alg]
	return n > 0 && len(hex) == n && strings.Trim(hex, "0123456789abcdef") == ""
}
