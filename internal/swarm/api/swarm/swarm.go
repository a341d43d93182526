// Package swarm holds the Docker Engine API's swarm objects as ccci sends
// and reads them: services, tasks, secrets and configs. Each type keeps
// the name, field order and JSON tags of github.com/moby/moby/api/types/swarm
// (v1.56), with only the fields ccci sets or reads, and the fields that
// type always encodes, so a request body is byte for byte what the moby
// types encoded. The moby packages are not linked: their init (go-digest's
// regexps, the OCI image-spec) ran on every call of every applet.
package swarm

import (
	"net/netip"
	"os"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/container"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/mount"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/network"
)

// Annotations are an object's name and labels.
type Annotations struct {
	Name   string            `json:",omitempty"`
	Labels map[string]string `json:"Labels"`
}

// Driver names a driver and its options.
type Driver struct {
	Name    string            `json:",omitempty"`
	Options map[string]string `json:",omitempty"`
}

// Service is an entry of GET /services (ID and spec only).
type Service struct {
	ID   string
	Spec ServiceSpec `json:",omitempty"`
}

// ServiceSpec is the body of POST /services/create.
type ServiceSpec struct {
	Annotations

	TaskTemplate   TaskSpec      `json:",omitempty"`
	Mode           ServiceMode   `json:",omitempty"`
	UpdateConfig   *UpdateConfig `json:",omitempty"`
	RollbackConfig *UpdateConfig `json:",omitempty"`
	EndpointSpec   *EndpointSpec `json:",omitempty"`
}

// ServiceMode is one of the four modes.
type ServiceMode struct {
	Replicated    *ReplicatedService `json:",omitempty"`
	Global        *GlobalService     `json:",omitempty"`
	ReplicatedJob *ReplicatedJob     `json:",omitempty"`
	GlobalJob     *GlobalJob         `json:",omitempty"`
}

// ReplicatedService is the replicated mode.
type ReplicatedService struct {
	Replicas *uint64 `json:",omitempty"`
}

// GlobalService is the global mode.
type GlobalService struct{}

// ReplicatedJob is the replicated-job mode.
type ReplicatedJob struct {
	MaxConcurrent    *uint64 `json:",omitempty"`
	TotalCompletions *uint64 `json:",omitempty"`
}

// GlobalJob is the global-job mode.
type GlobalJob struct{}

// FailureAction is what an update does when a task fails.
type FailureAction string

// UpdateOrder is stop-first or start-first.
type UpdateOrder string

// UpdateConfig is an update or rollback policy.
type UpdateConfig struct {
	Parallelism     uint64
	Delay           time.Duration `json:",omitempty"`
	FailureAction   FailureAction `json:",omitempty"`
	Monitor         time.Duration `json:",omitempty"`
	MaxFailureRatio float32
	Order           UpdateOrder
}

// TaskSpec is a service's task template.
type TaskSpec struct {
	ContainerSpec *ContainerSpec            `json:",omitempty"`
	Resources     *ResourceRequirements     `json:",omitempty"`
	RestartPolicy *RestartPolicy            `json:",omitempty"`
	Placement     *Placement                `json:",omitempty"`
	Networks      []NetworkAttachmentConfig `json:",omitempty"`
	LogDriver     *Driver                   `json:",omitempty"`
	ForceUpdate   uint64
}

// ContainerSpec is the container a task runs.
type ContainerSpec struct {
	Image           string                  `json:",omitempty"`
	Labels          map[string]string       `json:",omitempty"`
	Command         []string                `json:",omitempty"`
	Args            []string                `json:",omitempty"`
	Hostname        string                  `json:",omitempty"`
	Env             []string                `json:",omitempty"`
	Dir             string                  `json:",omitempty"`
	User            string                  `json:",omitempty"`
	Privileges      *Privileges             `json:",omitempty"`
	Init            *bool                   `json:",omitempty"`
	StopSignal      string                  `json:",omitempty"`
	TTY             bool                    `json:",omitempty"`
	OpenStdin       bool                    `json:",omitempty"`
	ReadOnly        bool                    `json:",omitempty"`
	Mounts          []mount.Mount           `json:",omitempty"`
	StopGracePeriod *time.Duration          `json:",omitempty"`
	Healthcheck     *container.HealthConfig `json:",omitempty"`
	Hosts           []string                `json:",omitempty"`
	DNSConfig       *DNSConfig              `json:",omitempty"`
	Secrets         []*SecretReference      `json:",omitempty"`
	Configs         []*ConfigReference      `json:",omitempty"`
	Isolation       container.Isolation     `json:",omitempty"`
	Sysctls         map[string]string       `json:",omitempty"`
	CapabilityAdd   []string                `json:",omitempty"`
	CapabilityDrop  []string                `json:",omitempty"`
	Ulimits         []*container.Ulimit     `json:",omitempty"`
	OomScoreAdj     int64                   `json:",omitempty"`
}

// DNSConfig is a container's resolv.conf.
type DNSConfig struct {
	Nameservers []netip.Addr `json:",omitempty"`
	Search      []string     `json:",omitempty"`
}

// CredentialSpec is a Windows credential spec (one of the three is set).
type CredentialSpec struct {
	Config   string
	File     string
	Registry string
}

// SELinuxContext is a container's SELinux labels.
type SELinuxContext struct {
	Disable bool

	User  string
	Role  string
	Type  string
	Level string
}

// Privileges are a container's security options.
type Privileges struct {
	CredentialSpec  *CredentialSpec
	SELinuxContext  *SELinuxContext
	NoNewPrivileges bool
}

// ResourceRequirements are a task's limits and reservations.
type ResourceRequirements struct {
	Limits       *Limit     `json:",omitempty"`
	Reservations *Resources `json:",omitempty"`
}

// Limit is a resource limit.
type Limit struct {
	NanoCPUs    int64 `json:",omitempty"`
	MemoryBytes int64 `json:",omitempty"`
	Pids        int64 `json:",omitempty"`
}

// Resources is a resource reservation.
type Resources struct {
	NanoCPUs         int64             `json:",omitempty"`
	MemoryBytes      int64             `json:",omitempty"`
	GenericResources []GenericResource `json:",omitempty"`
}

// GenericResource is a user-defined resource (discrete only: compose
// has no named ones).
type GenericResource struct {
	DiscreteResourceSpec *DiscreteGenericResource `json:",omitempty"`
}

// DiscreteGenericResource is a countable resource.
type DiscreteGenericResource struct {
	Kind  string `json:",omitempty"`
	Value int64  `json:",omitempty"`
}

// Placement constrains where tasks run.
type Placement struct {
	Constraints []string              `json:",omitempty"`
	Preferences []PlacementPreference `json:",omitempty"`
	MaxReplicas uint64                `json:",omitempty"`
}

// PlacementPreference spreads tasks over a node label.
type PlacementPreference struct {
	Spread *SpreadOver
}

// SpreadOver is the label a preference spreads over.
type SpreadOver struct {
	SpreadDescriptor string
}

// RestartPolicyCondition is when a task is restarted.
type RestartPolicyCondition string

// The restart conditions ccci sets from compose's legacy `restart:`.
const (
	RestartPolicyConditionOnFailure RestartPolicyCondition = "on-failure"
	RestartPolicyConditionAny       RestartPolicyCondition = "any"
)

// RestartPolicy is a task's restart policy.
type RestartPolicy struct {
	Condition   RestartPolicyCondition `json:",omitempty"`
	Delay       *time.Duration         `json:",omitempty"`
	MaxAttempts *uint64                `json:",omitempty"`
	Window      *time.Duration         `json:",omitempty"`
}

// EndpointSpec is a service's published ports and resolution mode.
type EndpointSpec struct {
	Mode  ResolutionMode `json:",omitempty"`
	Ports []PortConfig   `json:",omitempty"`
}

// ResolutionMode is vip or dnsrr.
type ResolutionMode string

// PortConfigPublishMode is ingress or host.
type PortConfigPublishMode string

// PortConfig is one published port.
type PortConfig struct {
	Protocol      network.IPProtocol    `json:",omitempty"`
	TargetPort    uint32                `json:",omitempty"`
	PublishedPort uint32                `json:",omitempty"`
	PublishMode   PortConfigPublishMode `json:",omitempty"`
}

// NetworkAttachmentConfig attaches a service to a network.
type NetworkAttachmentConfig struct {
	Target     string            `json:",omitempty"`
	Aliases    []string          `json:",omitempty"`
	DriverOpts map[string]string `json:",omitempty"`
}

// TaskState is a task's state.
type TaskState string

// The task states ccci looks for.
const (
	TaskStateRunning  TaskState = "running"
	TaskStateFailed   TaskState = "failed"
	TaskStateRejected TaskState = "rejected"
)

// Task is an entry of GET /tasks (what converging reads).
type Task struct {
	ID           string
	Status       TaskStatus `json:",omitempty"`
	DesiredState TaskState  `json:",omitempty"`
}

// TaskStatus is a task's current state.
type TaskStatus struct {
	Timestamp       time.Time        `json:",omitempty"`
	State           TaskState        `json:",omitempty"`
	Message         string           `json:",omitempty"`
	Err             string           `json:",omitempty"`
	ContainerStatus *ContainerStatus `json:",omitempty"`
}

// ContainerStatus names a task's container.
type ContainerStatus struct {
	ContainerID string
}

// Secret is an entry of GET /secrets.
type Secret struct {
	ID   string
	Spec SecretSpec
}

// SecretSpec is the body of POST /secrets/create.
type SecretSpec struct {
	Annotations

	Data       []byte  `json:",omitempty"`
	Driver     *Driver `json:",omitempty"`
	Templating *Driver `json:",omitempty"`
}

// SecretReferenceFileTarget is where a secret appears in the container.
type SecretReferenceFileTarget struct {
	Name string
	UID  string
	GID  string
	Mode os.FileMode
}

// SecretReference gives a service a secret.
type SecretReference struct {
	File       *SecretReferenceFileTarget
	SecretID   string
	SecretName string
}

// Config is an entry of GET /configs.
type Config struct {
	ID   string
	Spec ConfigSpec
}

// ConfigSpec is the body of POST /configs/create.
type ConfigSpec struct {
	Annotations

	Data       []byte  `json:",omitempty"`
	Templating *Driver `json:",omitempty"`
}

// ConfigReferenceFileTarget is where a config appears in the container.
type ConfigReferenceFileTarget struct {
	Name string
	UID  string
	GID  string
	Mode os.FileMode
}

// ConfigReferenceRuntimeTarget gives a config to the runtime (a
// credential spec).
type ConfigReferenceRuntimeTarget struct{}

// ConfigReference gives a service a config.
type ConfigReference struct {
	File       *ConfigReferenceFileTarget    `json:",omitempty"`
	Runtime    *ConfigReferenceRuntimeTarget `json:",omitempty"`
	ConfigID   string
	ConfigName string
}
