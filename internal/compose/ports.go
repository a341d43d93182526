package compose

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	composetypes "github.com/docker/cli/cli/compose/types"
)

// parsePortSpec turns a short-syntax port ("80", "8080:80/udp",
// "127.0.0.1:8000-8001:80-81") into swarm ports as docker's loader does
// (toServicePortConfigs: go-connections' nat.ParsePortSpecs, then
// swarmopts.ConvertPortToPortConfig): mode ingress, one entry per
// container port and published port, ordered by the "port/proto" string,
// a host IP ignored.
func parsePortSpec(spec string) ([]any, error) {
	type binding struct {
		port     string // "80/tcp"
		hostPort string
	}
	ip, hostPort, containerPort := splitPortParts(spec)
	containerPort, proto, _ := strings.Cut(containerPort, "/")
	if containerPort == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", spec)
	}
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, errors.New("invalid proto: " + proto)
	}
	if ip != "" && ip[0] == '[' {
		raw, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
		ip = raw
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, errors.New("invalid IP address: " + ip)
	}
	start, end, err := portRange(containerPort)
	if err != nil {
		return nil, errors.New("invalid containerPort: " + containerPort)
	}
	var hStart, hEnd uint64
	if hostPort != "" {
		hStart, hEnd, err = portRange(hostPort)
		if err != nil {
			return nil, errors.New("invalid hostPort: " + hostPort)
		}
		if end-start != hEnd-hStart && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	var bs []binding
	count := end - start + 1
	for i := uint64(0); i < count; i++ {
		hp := ""
		if hostPort != "" {
			hp = strconv.FormatUint(hStart+i, 10)
			if count == 1 && hStart != hEnd {
				hp += "-" + strconv.FormatUint(hEnd, 10)
			}
		}
		bs = append(bs, binding{strconv.FormatUint(start+i, 10) + "/" + proto, hp})
	}
	slices.SortStableFunc(bs, func(a, b binding) int { return strings.Compare(a.port, b.port) })
	var out []any
	for _, b := range bs {
		num, _, _ := strings.Cut(b.port, "/")
		target, _ := strconv.ParseUint(num, 10, 32)
		lo, hi, err := portRange(b.hostPort)
		if err != nil && b.hostPort != "" {
			return nil, fmt.Errorf("invalid hostport binding (%s) for port (%s)", b.hostPort, num)
		}
		for p := lo; p <= hi; p++ {
			out = append(out, composetypes.ServicePortConfig{
				Mode: "ingress", Target: uint32(target), Published: uint32(p), Protocol: proto,
			})
		}
	}
	return out, nil
}

func splitPortParts(raw string) (ip, hostPort, containerPort string) {
	parts := strings.Split(raw, ":")
	switch n := len(parts); n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

// portRange parses "8000" or "8000-8010" (nat.ParsePortRange).
func portRange(s string) (uint64, uint64, error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	lo, hi, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || !isRange {
		return start, start, err
	}
	end, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errors.New("invalid range specified for port: " + s)
	}
	return start, end, nil
}
