// Package volume holds what ccci reads of the Docker Engine API's volume
// list, with the names and JSON tags of
// github.com/moby/moby/api/types/volume (v1.56).
package volume

// ListResponse is GET /volumes.
type ListResponse struct {
	Volumes []Volume `json:"Volumes"`
}

// Volume is one volume (name and labels).
type Volume struct {
	Name   string            `json:"Name"`
	Labels map[string]string `json:"Labels"`
}
