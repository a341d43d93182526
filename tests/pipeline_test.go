package tests

// The Drone pipeline replay (testdata/pipeline): the recipe pipeline of the
// repository's own .drone.yml, run step by step the way drone-runner-exec
// runs it, against the real swarm. Drone's ${VAR} substitution is applied
// to the file, each step's commands become one script (set -e, an
// `echo + CMD` trace line before each command) run as `/bin/sh -e SCRIPT`
// in the workspace, with the DRONE_* variables, the build parameters and
// the step's environment. Like deploy_test.go it brings the test bed up
// with .ci/testbed and FAILS, never skips, when it cannot.

import (
	"bytes"
	"fmt"
	"git.coopcloud.tech/toolshed/ccci/tests/testbed"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"
)

var (
	pipeSeq    atomic.Int64
	pipeBuilds sync.Map // "$WORK\x00NAME" -> *droneBuild
)

// buildDeadline bounds a whole build (install, deploy, converge, test,
// teardown, report), queued behind another one.
const buildDeadline = 3 * time.Minute

// cancelGrace is droneterm's SIGTERM→SIGKILL grace: longer than
// drone-step.sh's and ccci-deploy's own, so a SIGKILL means the teardown
// did not fit.
const cancelGrace = 45 * time.Second

// TestPipeline runs testdata/pipeline. Each script gets $UNIQ (a domain
// prefix unique per script and test binary), $SCOPE (^$UNIQ-, for
// ccci-janitor --scope), $RECIPES, $SCRIPTS (the repository's scripts/)
// and $ABRA_STANDIN (the recording abra stand-in's directory).
func TestPipeline(t *testing.T) {
	testbed.Need(t, "..")
	recipes, err := filepath.Abs("testdata/recipes")
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := filepath.Abs("../scripts")
	if err != nil {
		t.Fatal(err)
	}
	standin, err := filepath.Abs("testdata/abra")
	if err != nil {
		t.Fatal(err)
	}
	p := params("pipeline")
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		uniq := fmt.Sprintf("p%d-%d", os.Getpid()%100000, pipeSeq.Add(1))
		e.Setenv("UNIQ", uniq)
		reapAfter(e, uniq)
		e.Setenv("SCOPE", "^"+regexp.QuoteMeta(uniq)+"-")
		e.Setenv("RECIPES", recipes)
		e.Setenv("SCRIPTS", scripts)
		e.Setenv("ABRA_STANDIN", standin)
		return nil
	}
	testscript.Run(t, p)
}

func init() {
	cmds["dronebuild"] = cmdDroneBuild
	cmds["dronecancel"] = cmdDroneCancel
	cmds["droneterm"] = cmdDroneTerm
	cmds["dronekill"] = cmdDroneKill
	cmds["dronewait"] = cmdDroneWait
	cmds["dronefirst"] = cmdDroneFirst
	cmds["runprocsgone"] = cmdRunProcsGone
}

// droneStep is one step of a pipeline as .drone.yml spells it.
type droneStep struct {
	Name        string            `yaml:"name"`
	Commands    []string          `yaml:"commands"`
	Environment map[string]string `yaml:"environment"`
}

type dronePipeline struct {
	Kind    string `yaml:"kind"`
	Type    string `yaml:"type"`
	Name    string `yaml:"name"`
	Trigger struct {
		Event []string `yaml:"event"`
	} `yaml:"trigger"`
	Steps []droneStep `yaml:"steps"`
}

var droneVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// droneSubst does what the Drone server does to the file before any
// runner sees it: $$ is a literal $, ${NAME} the build's value (empty if
// it has none).
func droneSubst(text string, vars map[string]string) string {
	return droneVar.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$$" {
			return "$"
		}
		return vars[m[2:len(m)-1]]
	})
}

// recipePipeline returns the exec pipeline triggered by the custom event
// (the !testme bridge) from the substituted .drone.yml.
func recipePipeline(yml string, vars map[string]string) (*dronePipeline, error) {
	dec := yaml.NewDecoder(strings.NewReader(droneSubst(yml, vars)))
	for {
		var p dronePipeline
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf(".drone.yml: no exec pipeline on the custom event: %v", err)
		}
		if p.Kind == "pipeline" && p.Type == "exec" && contains(p.Trigger.Event, "custom") {
			return &p, nil
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// droneScript is drone-runner-exec's step script (runner-go's posix
// shell.Script): set -e, then each command after an `echo + CMD` trace.
func droneScript(commands []string) string {
	var b strings.Builder
	b.WriteString("\nset -e\n")
	for _, c := range commands {
		quoted := strings.ReplaceAll(strconv.Quote(c), "$", `\$`)
		fmt.Fprintf(&b, "\necho + %s\n%s\n", quoted, c)
	}
	return b.String()
}

// droneBuild is one build in flight: its steps run one after the other.
type droneBuild struct {
	number string
	root   string // the build's root directory: home, workspace, scripts
	mu     sync.Mutex
	step   *exec.Cmd // the running step's process, nil between steps
	cancel bool
	done   chan struct{}
	status int // the failing step's status (128+N if killed by N), else 0
	err    error
}

// dronebuild NAME NUMBER [PARAM=VALUE...] starts build NUMBER of the recipe
// pipeline in the background, with PARAMs as the custom build's
// parameters; every step's output goes to $WORK/NAME.log. The runner's
// environment sets CCCI_BIN (the binary under test), CCCI_LOCK_DIR,
// CCCI_RUNS_DIR and ABRA_DIR; PATH is the host's, without the test's bin.
func cmdDroneBuild(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: dronebuild NAME NUMBER [PARAM=VALUE...]")
	}
	name, number := args[0], args[1]
	work := ts.Getenv("WORK")
	root := filepath.Join(work, "drone-"+name)
	home := filepath.Join(root, "home", "drone")
	src := filepath.Join(root, "drone", "src")
	opt := filepath.Join(root, "opt")
	for _, d := range []string{home, src, opt} {
		ts.Check(os.MkdirAll(d, 0o700))
	}
	repo, err := filepath.Abs("..")
	ts.Check(err)
	// The clone: what the recipe pipeline uses of the checkout.
	ts.Check(os.Symlink(filepath.Join(repo, "scripts"), filepath.Join(src, "scripts")))

	env := map[string]string{
		"PATH":          os.Getenv("PATH"),
		"CCCI_BIN":      filepath.Join(binDir, "ccci"),
		"CCCI_LOCK_DIR": ts.Getenv("CCCI_LOCK_DIR"),
		"CCCI_RUNS_DIR": ts.Getenv("CCCI_RUNS_DIR"),
		"ABRA_DIR":      ts.Getenv("ABRA_DIR"),
		"NO_COLOR":      "1",
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env["DOCKER_HOST"] = h
	}
	for _, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("dronebuild: parameter %q is not KEY=VALUE", kv)
		}
		env[k] = v
	}
	for k, v := range map[string]string{
		"CI": "true", "DRONE": "true",
		"DRONE_BUILD_NUMBER": number, "DRONE_BUILD_EVENT": "custom",
		"DRONE_REPO": "toolshed/ccci", "DRONE_REPO_OWNER": "toolshed", "DRONE_REPO_NAME": "ccci",
		"DRONE_BRANCH": "main", "DRONE_COMMIT": "0123456789abcdef0123456789abcdef01234567",
		"DRONE_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
		"DRONE_STAGE_NAME": "recipe", "DRONE_STAGE_KIND": "pipeline", "DRONE_STAGE_TYPE": "exec",
		"DRONE_WORKSPACE": src, "DRONE_HOME": src, "HOME": home,
	} {
		env[k] = v
	}

	yml, err := os.ReadFile(filepath.Join(repo, ".drone.yml"))
	ts.Check(err)
	p, err := recipePipeline(string(yml), env)
	ts.Check(err)
	log, err := os.OpenFile(filepath.Join(work, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	ts.Check(err)

	b := &droneBuild{number: number, root: root, done: make(chan struct{})}
	if _, dup := pipeBuilds.LoadOrStore(work+"\x00"+name, b); dup {
		ts.Fatalf("dronebuild: %s already started", name)
	}
	go func() {
		defer close(b.done)
		defer log.Close()
		b.status, b.err = b.run(p, env, opt, src, log)
	}()
	// A failing script must not leave a build behind: cancel as the runner
	// would, then wait for it (bounded).
	ts.Defer(func() {
		select {
		case <-b.done:
		default:
			b.signal(syscall.SIGTERM, false)
			select {
			case <-b.done:
			case <-time.After(cancelGrace):
				b.signal(syscall.SIGKILL, true)
				<-b.done
			}
		}
	})
}

// run runs the steps serially, as the runner does, until one fails or the
// build is cancelled.
func (b *droneBuild) run(p *dronePipeline, env map[string]string, opt, src string, log *os.File) (int, error) {
	for _, s := range p.Steps {
		script := filepath.Join(opt, s.Name)
		if err := os.WriteFile(script, []byte(droneScript(s.Commands)), 0o700); err != nil {
			return 255, err
		}
		stepEnv := map[string]string{"DRONE_STEP_NAME": s.Name}
		for k, v := range env {
			stepEnv[k] = v
		}
		for k, v := range s.Environment {
			stepEnv[k] = os.Expand(v, func(k string) string { return stepEnv[k] })
		}
		var envList []string
		for k, v := range stepEnv {
			envList = append(envList, k+"="+v)
		}
		sort.Strings(envList)
		fmt.Fprintf(log, "--- step %s\n", s.Name)
		cmd := exec.Command("/bin/sh", "-e", script)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = src, envList, log, log
		// Its own process group: "the runner's group" that dronekill ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		b.mu.Lock()
		if b.cancel {
			b.mu.Unlock()
			return 0, nil
		}
		if err := cmd.Start(); err != nil {
			b.mu.Unlock()
			return 255, err
		}
		b.step = cmd
		b.mu.Unlock()
		err := cmd.Wait()
		b.mu.Lock()
		b.step = nil
		b.mu.Unlock()
		if err != nil {
			st := cmd.ProcessState.ExitCode()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				st = 128 + int(ws.Signal())
			}
			fmt.Fprintf(log, "--- step %s: exit %d\n", s.Name, st)
			return st, nil
		}
	}
	return 0, nil
}

// signal sends sig to the running step's process (its whole process group
// if group) and marks the build cancelled: no further step starts.
func (b *droneBuild) signal(sig syscall.Signal, group bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cancel = true
	if b.step == nil {
		return
	}
	pid := b.step.Process.Pid
	if group {
		pid = -pid
	}
	syscall.Kill(pid, sig)
}

func lookupBuild(ts *testscript.TestScript, name string) *droneBuild {
	b, ok := pipeBuilds.Load(ts.Getenv("WORK") + "\x00" + name)
	if !ok {
		ts.Fatalf("no build %q", name)
	}
	return b.(*droneBuild)
}

// dronecancel NAME cancels build NAME exactly as drone-runner-exec does:
// SIGKILL to the running step's process alone (not its group: the step
// script's children live on, orphaned), then the removal of the build's
// root directory, workspace and bin/ccci included. It returns once the
// step process is gone and the root removed. No further step starts.
func cmdDroneCancel(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dronecancel NAME")
	}
	b := lookupBuild(ts, args[0])
	b.signal(syscall.SIGKILL, false)
	select {
	case <-b.done:
	case <-time.After(buildDeadline):
		ts.Fatalf("build %s: step process still there %v after its SIGKILL", args[0], buildDeadline)
	}
	ts.Check(os.RemoveAll(b.root))
}

// droneterm NAME signals build NAME as an operator's kill or a runner
// that lets a step wind down would: SIGTERM to the step process, SIGKILL
// to its group after cancelGrace. (drone-runner-exec's own cancel is
// dronecancel.)
func cmdDroneTerm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: droneterm NAME")
	}
	b := lookupBuild(ts, args[0])
	b.signal(syscall.SIGTERM, false)
	go func() {
		select {
		case <-b.done:
		case <-time.After(cancelGrace):
			b.signal(syscall.SIGKILL, true)
		}
	}()
}

// dronekill NAME SIGKILLs the running step's whole process group, as a
// dying runner takes its step shells with it.
func cmdDroneKill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dronekill NAME")
	}
	lookupBuild(ts, args[0]).signal(syscall.SIGKILL, true)
}

// dronewait NAME STATUS waits (bounded) for build NAME to end and checks
// its status: the failing step's (128+N when killed by signal N), else 0.
func cmdDroneWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: dronewait NAME STATUS")
	}
	b := lookupBuild(ts, args[0])
	select {
	case <-b.done:
	case <-time.After(buildDeadline):
		ts.Fatalf("timed out after %v waiting for build %s", buildDeadline, args[0])
	}
	ts.Check(b.err)
	if got := strconv.Itoa(b.status); got != args[1] {
		ts.Fatalf("build %s ended %s, want %s", args[0], got, args[1])
	}
}

// dronefirst A B waits until the test command of build A or of build B has
// started (a pid in A.pid or B.pid in $WORK), and sets FIRST and SECOND to the
// builds' names in that order, FIRST_RUN and SECOND_RUN to their numbers.
func cmdDroneFirst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: dronefirst A B")
	}
	var first, second string
	waitFor(ts, "a test command of "+args[0]+" or "+args[1]+" to start", func() bool {
		for i, n := range args {
			if b, err := os.ReadFile(ts.MkAbs(n + ".pid")); err == nil && bytes.HasSuffix(b, []byte("\n")) {
				first, second = n, args[1-i]
				return true
			}
		}
		return false
	})
	ts.Setenv("FIRST", first)
	ts.Setenv("SECOND", second)
	ts.Setenv("FIRST_RUN", lookupBuild(ts, first).number)
	ts.Setenv("SECOND_RUN", lookupBuild(ts, second).number)
}

// runprocsgone RUN... waits until no process carries CCCI_RUN_ID=RUN with
// this script's CCCI_RUNS_DIR in its environment: nothing of the run is
// left running.
func cmdRunProcsGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: runprocsgone RUN...")
	}
	dir := []byte("CCCI_RUNS_DIR=" + ts.Getenv("CCCI_RUNS_DIR"))
	var left []string
	waitFor(ts, fmt.Sprintf("the processes of runs %v to end", args), func() bool {
		left = left[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err != nil || !hasVar(env, dir) {
				continue
			}
			for _, r := range args {
				if hasVar(env, []byte("CCCI_RUN_ID="+r)) {
					comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
					left = append(left, e.Name()+" "+strings.TrimSpace(string(comm)))
				}
			}
		}
		return len(left) == 0
	})
}

func hasVar(environ, kv []byte) bool {
	for _, v := range bytes.Split(environ, []byte{0}) {
		if bytes.Equal(v, kv) {
			return true
		}
	}
	return false
}

// TestDroneReplay checks the replay's own pieces: Drone's substitution, the
// recipe pipeline as .drone.yml spells it, and the exec runner's script
// (set -e stops at the first failing command; `$` in the trace is literal).
func TestDroneReplay(t *testing.T) {
	vars := map[string]string{"DRONE_BUILD_NUMBER": "42"}
	for _, c := range []struct{ in, want string }{
		{"${DRONE_BUILD_NUMBER}", "42"},
		{"$${DRONE_BUILD_NUMBER}", "${DRONE_BUILD_NUMBER}"},
		{"$${A:-$${B}-${DRONE_BUILD_NUMBER}}", "${A:-${B}-42}"},
		{"${UNKNOWN}x", "x"},
		{"$$HOME $x", "$HOME $x"},
	} {
		if got := droneSubst(c.in, vars); got != c.want {
			t.Errorf("droneSubst(%q) = %q, want %q", c.in, got, c.want)
		}
	}

	yml, err := os.ReadFile("../.drone.yml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := recipePipeline(string(yml), vars)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	if p.Name != "recipe" || strings.Join(names, " ") != "install deploy" {
		t.Errorf("recipe pipeline %q with steps %v, want recipe with [install deploy]", p.Name, names)
	}
	if got := p.Steps[len(p.Steps)-1].Environment["CCCI_RUN_ID"]; got != "42" {
		t.Errorf("deploy step CCCI_RUN_ID = %q, want the build number 42", got)
	}

	script := filepath.Join(t.TempDir(), "step")
	body := droneScript([]string{`echo "one $0"`, "false", "echo two"})
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-e", script).CombinedOutput()
	if want := "+ echo \"one $0\"\none " + script + "\n+ false\n"; string(out) != want || err == nil {
		t.Errorf("step script: output %q, err %v; want %q and a failure", out, err, want)
	}
}
