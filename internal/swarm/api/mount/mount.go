// Package mount holds the Docker Engine API's mount types as ccci sends
// them, with the names, field order and JSON tags of
// github.com/moby/moby/api/types/mount (v1.56): only the fields ccci sets
// (see package swarm in the parent directory for why).
package mount

// Type is bind, volume, tmpfs, npipe, cluster or image.
type Type string

// Consistency is a bind mount's consistency (Docker Desktop).
type Consistency string

// Propagation is a bind mount's propagation.
type Propagation string

// Mount is one mount of a container.
type Mount struct {
	Type        Type        `json:",omitempty"`
	Source      string      `json:",omitempty"`
	Target      string      `json:",omitempty"`
	ReadOnly    bool        `json:",omitempty"`
	Consistency Consistency `json:",omitempty"`

	BindOptions    *BindOptions    `json:",omitempty"`
	VolumeOptions  *VolumeOptions  `json:",omitempty"`
	ImageOptions   *ImageOptions   `json:",omitempty"`
	TmpfsOptions   *TmpfsOptions   `json:",omitempty"`
	ClusterOptions *ClusterOptions `json:",omitempty"`
}

// BindOptions are a bind mount's options.
type BindOptions struct {
	Propagation Propagation `json:",omitempty"`
}

// VolumeOptions are a volume mount's options; Labels and DriverConfig
// apply when the engine creates the volume.
type VolumeOptions struct {
	NoCopy       bool              `json:",omitempty"`
	Labels       map[string]string `json:",omitempty"`
	Subpath      string            `json:",omitempty"`
	DriverConfig *Driver           `json:",omitempty"`
}

// ImageOptions are an image mount's options.
type ImageOptions struct {
	Subpath string `json:",omitempty"`
}

// Driver names a volume driver and its options.
type Driver struct {
	Name    string            `json:",omitempty"`
	Options map[string]string `json:",omitempty"`
}

// TmpfsOptions are a tmpfs mount's options.
type TmpfsOptions struct {
	SizeBytes int64 `json:",omitempty"`
}

// ClusterOptions are a cluster volume's options (none).
type ClusterOptions struct{}
