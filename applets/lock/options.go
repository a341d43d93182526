package lock

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
	"git.coopcloud.tech/toolshed/ccci/internal/lifetime"
)

type options struct {
	domain           string
	argv             []string // the command; /bin/sh -c CMD for -c
	nonblock, shared bool
	wait             time.Duration
	conflict         int
	deadline, grace  time.Duration
	probe, status    bool
	json             bool
}

// exitCode is -E's value: an exit status, 0–255.
type exitCode struct{ p *int }

func (e exitCode) String() string {
	if e.p == nil {
		return ""
	}
	return strconv.Itoa(*e.p)
}

func (e exitCode) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return fmt.Errorf("invalid exit code %q: want 0-255", s)
	}
	*e.p = n
	return nil
}

func parse(args []string) (*options, error) {
	o := &options{conflict: applet.ExitConflict, deadline: lifetime.DefaultDeadline, grace: lifetime.DefaultGrace}
	var shell string
	fs := applet.NewFlagSet(prog)
	both := func(short, long string, v flag.Value) { fs.Var(v, short, ""); fs.Var(v, long, "") }
	fs.BoolVar(&o.nonblock, "n", false, "")
	fs.BoolVar(&o.nonblock, "nonblock", false, "")
	fs.BoolVar(&o.shared, "s", false, "")
	fs.BoolVar(&o.shared, "shared", false, "")
	both("w", "wait", applet.Duration{D: &o.wait})
	fs.Var(applet.Duration{D: &o.wait}, "timeout", "") // flock(1)'s other name for -w
	both("E", "conflict-exit-code", exitCode{&o.conflict})
	fs.StringVar(&shell, "c", "", "")
	fs.StringVar(&shell, "command", "", "")
	fs.Var(applet.Duration{D: &o.deadline}, "deadline", "")
	fs.Var(applet.Duration{D: &o.grace}, "grace", "")
	fs.BoolVar(&o.probe, "probe", false, "")
	fs.BoolVar(&o.status, "status", false, "")
	fs.BoolVar(&o.json, "json", false, "")

	pos, cmd, err := applet.Parse(fs, args, 1)
	if err != nil {
		return nil, err
	}
	waitSet := false
	fs.Visit(func(f *flag.Flag) { waitSet = waitSet || f.Name == "w" || f.Name == "wait" || f.Name == "timeout" })
	if waitSet && o.wait == 0 {
		o.nonblock = true // flock(1): -w 0 gives up at once
	}
	switch {
	case o.status:
		if len(pos) > 0 || len(cmd) > 0 || o.probe {
			return nil, errors.New("--status takes no DOMAIN or command")
		}
		return o, nil
	case o.json:
		return nil, errors.New("--json goes with --status")
	case len(pos) == 0:
		return nil, errors.New("missing DOMAIN")
	}
	o.domain = pos[0]
	switch {
	case o.probe:
		if len(cmd) > 0 || shell != "" {
			return nil, errors.New("--probe runs no command")
		}
	case shell != "" && len(cmd) > 0:
		return nil, fmt.Errorf("-c takes the whole command; unexpected %q", cmd[0])
	case shell != "":
		o.argv = []string{"/bin/sh", "-c", shell}
	case len(cmd) == 0:
		return nil, errors.New("missing COMMAND")
	default:
		o.argv = cmd
	}
	// 0 is no deadline and no grace in other tools' words; here either
	// would be a silent default or a run without bound, so it is refused.
	if o.deadline == 0 {
		return nil, errors.New("--deadline must be more than 0")
	}
	if o.grace == 0 {
		return nil, errors.New("--grace must be more than 0")
	}
	return o, nil
}
