package sh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"git.coopcloud.tech/toolshed/ccci/internal/applet"
)

// internal prefixes the commands ccci-sh's rewrite and call handler insert;
// no PATH lookup can produce a name starting with '@ccci:'.
const internal = "@ccci:"

// shell is one ccci-sh invocation: its traps, pending signals and jobs.
type shell struct {
	env *applet.Env

	mu       sync.Mutex
	traps    map[syscall.Signal]string // absent: default; "": ignored
	exitTrap string
	errTrap  string
	pending  []syscall.Signal // trapped signals not yet handled, in order
	cancel   context.CancelCauseFunc
	ppid     int // at start: a later change means the parent died
	jobs     []*job
	lastBg   string

	wake     chan struct{} // nudges a blocked wait when a trapped signal arrives
	tick     chan struct{} // closed (and replaced) each time watch took a signal
	name     string        // the script's name, for messages
	fatal    atomic.Int32  // the untrapped signal that ended the run, or 0
	inTrap   atomic.Bool   // a trap action runs: don't nest another
	trapDone atomic.Bool   // set by @ccci:trapdone: the action did not exit
	calls    atomic.Int64  // simple commands called so far
	errFired atomic.Int64  // calls when the ERR trap last fired
}

func newShell(env *applet.Env) *shell {
	return &shell{env: env, ppid: os.Getppid(), traps: map[syscall.Signal]string{}, wake: make(chan struct{}, 1), tick: make(chan struct{})}
}

// run interprets file and returns the exit status, running the EXIT trap
// exactly once on the way out, whatever the way is.
func (s *shell) run(ctx context.Context, file *syntax.File, name string, stdin io.Reader, params []string) int {
	s.name = name
	runCtx, cancel := context.WithCancelCause(ctx)
	s.setCancel(cancel)
	defer cancel(nil)

	// Per invocation: an in-process applet that installs its own handlers
	// gets the same signals, which is intended (its teardown, then our trap).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, trappable...)
	stop := make(chan struct{})
	defer func() {
		// After an untrapped signal ended the run, stay registered: the
		// default action restored by Stop would let a late signal kill us
		// with its own number (TestSignalStorm); late ones are dropped.
		if s.fatal.Load() == 0 {
			signal.Stop(sigs)
		}
		close(stop)
	}()
	go s.watch(sigs, stop)

	opts := []interp.RunnerOption{
		interp.StdIO(stdin, s.env.Stdout, s.env.Stderr),
		interp.Env(&dynEnviron{Environ: expand.ListEnviron(s.env.Environ...), s: s}),
		interp.Dir(s.env.Dir),
		interp.Params(params...),
		interp.CallHandler(s.call),
		interp.ExecHandlers(s.execMiddleware),
	}
	r, err := interp.New(opts...)
	if err != nil {
		s.env.Errorf("sh", "%v", err)
		return applet.ExitUsage
	}
	err = runGuarded(runCtx, r, file)
	status := s.status(err)
	exited := r.Exited()

	// From here on the run's context may be cancelled; traps get a fresh
	// one, cancelled in turn by a further untrapped signal.
	after, cancel2 := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel2(nil)
	s.setCancel(cancel2)

	if sig := s.fatal.Load(); sig != 0 {
		status = applet.SignalStatus(syscall.Signal(sig))
	} else if !exited {
		// A trapped signal that arrived after the last command still runs.
		status = s.runPendingAtEnd(after, r, file.Name, status)
	}
	return s.runExitTrap(after, r, file.Name, status)
}

// interpPanic is a panic of the interpreter (mvdan.cc/sh) itself, on a
// construct it does not handle (e.g. `(( a[2] = 3 ))` in v3.14).
type interpPanic struct{ v any }

func (p interpPanic) Error() string {
	return fmt.Sprintf("the interpreter failed (%v) on a construct ccci-sh does not support; nothing after it ran", p.v)
}

// runGuarded is r.Run, with a panic of the interpreter turned into an
// error: the script ends with status 2 and a one-line message, and its
// EXIT trap still runs, instead of a goroutine dump (TestInterpPanic).
func runGuarded(ctx context.Context, r *interp.Runner, node syntax.Node) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = interpPanic{v}
		}
	}()
	return r.Run(ctx, node)
}

// status turns what Runner.Run returned into an exit status.
func (s *shell) status(err error) int {
	var es interp.ExitStatus
	var ip interpPanic
	switch {
	case err == nil:
		return 0
	case errors.As(err, &es):
		return int(es)
	case errors.As(err, &ip):
		s.env.Errorf("sh", "%v", err)
		return applet.ExitUsage
	case s.fatal.Load() != 0:
		return applet.SignalStatus(syscall.Signal(s.fatal.Load()))
	default:
		s.env.Errorf("sh", "%v", err)
		return 1
	}
}

// setStatus makes $? read status for what r runs next. A bare command,
// unlike a statement, triggers neither ERR trap nor errexit.
func (s *shell) setStatus(ctx context.Context, r *interp.Runner, status int) {
	call := &syntax.CallExpr{Args: []*syntax.Word{lit(internal + "status"), lit(strconv.Itoa(status))}}
	r.Run(ctx, call)
}

func (s *shell) runPendingAtEnd(ctx context.Context, r *interp.Runner, name string, status int) int {
	for {
		_, action, ok := s.popPending()
		if !ok {
			return status
		}
		s.setStatus(ctx, r, status)
		if st, exited := s.runAction(ctx, r, name, action); exited {
			return st
		}
	}
}

func (s *shell) runExitTrap(ctx context.Context, r *interp.Runner, name string, status int) int {
	s.mu.Lock()
	action := s.exitTrap
	s.exitTrap = "" // exactly once, even if the action runs exit itself
	s.mu.Unlock()
	if action == "" {
		return status
	}
	s.setStatus(ctx, r, status)
	if st, exited := s.runAction(ctx, r, name, action); exited {
		return st
	}
	return status
}

// runAction runs a trap action at the top level; it reports whether the
// action ran exit, and with which status. An interpreter panic in the
// action ends the script as exit 2 would: it is no exit of the runner,
// but the script's status must not hide it (TestInterpPanic).
func (s *shell) runAction(ctx context.Context, r *interp.Runner, name, action string) (int, bool) {
	f, err := syntax.NewParser().Parse(strings.NewReader(action), name)
	if err != nil {
		s.env.Errorf("sh", "trap: %v", err)
		return 0, false
	}
	s.inTrap.Store(true)
	err = runGuarded(ctx, r, f)
	s.inTrap.Store(false)
	var ip interpPanic
	if r.Exited() || errors.As(err, &ip) {
		return s.status(err), true
	}
	return 0, false
}

func (s *shell) setCancel(c context.CancelCauseFunc) {
	s.mu.Lock()
	s.cancel = c
	s.mu.Unlock()
}

// dynEnviron adds the read-only variable behind ccci-sh's $!: the pid of
// the last background command it started.
type dynEnviron struct {
	expand.Environ
	s *shell
}

const lastBgVar = "__ccci_lastbg"

func (e *dynEnviron) Get(name string) expand.Variable {
	if name == lastBgVar {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		if e.s.lastBg == "" {
			return expand.Variable{}
		}
		return expand.Variable{Set: true, Kind: expand.String, Str: e.s.lastBg}
	}
	return e.Environ.Get(name)
}

// environ lists the exported variables of env, for a child or an applet.
func environ(env expand.Environ) []string {
	var list []string
	seen := map[string]int{}
	env.Each(func(name string, vr expand.Variable) bool {
		if i, ok := seen[name]; ok {
			list[i] = "" // a later occurrence wins
		}
		if vr.IsSet() && vr.Exported && vr.Kind == expand.String {
			seen[name] = len(list)
			list = append(list, name+"="+vr.String())
		}
		return true
	})
	out := list[:0]
	for _, kv := range list {
		if kv != "" {
			out = append(out, kv)
		}
	}
	return out
}

func lit(s string) *syntax.Word { return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}} }

func exitErr(code int) error {
	if code == 0 {
		return nil
	}
	return interp.ExitStatus(uint8(code))
}

func errorf(hc interp.HandlerContext, format string, args ...any) {
	fmt.Fprintf(hc.Stderr, "ccci-sh: "+format+"\n", args...)
}

// posf is errorf with the script's name and the command's position.
func (s *shell) posf(hc interp.HandlerContext, format string, args ...any) {
	errorf(hc, "%s:%s: %s", s.name, hc.Pos, fmt.Sprintf(format, args...))
}
