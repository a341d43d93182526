// Package network holds the Docker Engine API's network types as ccci
// sends and reads them, with the names, field order and JSON tags of
// github.com/moby/moby/api/types/network (v1.56): only the fields ccci
// sets or reads, and those CreateRequest always encodes (see package swarm
// in the parent directory for why).
package network

import "net/netip"

// CreateRequest is the body of POST /networks/create.
type CreateRequest struct {
	Name       string
	Driver     string
	Scope      string
	IPAM       *IPAM
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigOnly bool
	ConfigFrom *ConfigReference
	Options    map[string]string
	Labels     map[string]string
}

// ConfigReference names a config-only network (ccci sends none).
type ConfigReference struct {
	Network string
}

// IPAM is a network's address management.
type IPAM struct {
	Driver  string
	Options map[string]string
	Config  []IPAMConfig
}

// IPAMConfig is one subnet.
type IPAMConfig struct {
	Subnet netip.Prefix `json:"Subnet,omitzero"`
}

// IPProtocol is tcp, udp or sctp.
type IPProtocol string

// Summary is an entry of GET /networks, and the part of GET
// /networks/{id} ccci reads.
type Summary struct {
	Name   string            `json:"Name"`
	ID     string            `json:"Id"`
	Scope  string            `json:"Scope"`
	Labels map[string]string `json:"Labels"`
}
