// Package container holds the Docker Engine API's container types as ccci
// sends and reads them, with the names, field order and JSON tags of
// github.com/moby/moby/api/types/container (v1.56): only the fields ccci
// sets or reads (see package swarm in the parent directory for why).
package container

import (
	"strings"
	"time"
)

// HealthConfig is a container's healthcheck.
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// Isolation is a container's isolation technology (Windows).
type Isolation string

// NetworkMode is a network a container joins, as a name or mode.
type NetworkMode string

// IsUserDefined: not one of the predefined networks (default, bridge,
// host, none) nor another container's (container:ID), as moby's on Unix.
func (n NetworkMode) IsUserDefined() bool {
	switch n {
	case "default", "bridge", "host", "none":
		return false
	}
	return !strings.HasPrefix(string(n), "container:")
}

// HealthStatus is a container's health.
type HealthStatus string

// Healthy: the healthcheck passes.
const Healthy HealthStatus = "healthy"

// InspectResponse is GET /containers/{id}/json (the health only).
type InspectResponse struct {
	State *State
}

// State is a container's state.
type State struct {
	Health *Health `json:",omitempty"`
}

// Health is a container's health.
type Health struct {
	Status HealthStatus
}

// Summary is an entry of GET /containers/json.
type Summary struct {
	ID     string `json:"Id"`
	Names  []string
	Labels map[string]string
}
