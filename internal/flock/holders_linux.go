package flock

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"git.coopcloud.tech/toolshed/ccci/internal/lock"
)

// procLocks is the kernel's table of file locks, as lslocks(8) reads it.
const procLocks = "/proc/locks"

// KernelHolder is a process the kernel says holds a flock on a file.
type KernelHolder struct {
	PID    int
	Shared bool
}

// kernelHolders lists the holders of flock locks on the file dev/ino, from
// /proc/locks (readLocks).
func kernelHolders(dev, ino uint64) ([]KernelHolder, error) {
	ls, err := readLocks()
	if err != nil {
		return nil, err
	}
	return holdersOf(ls, dev, ino), nil
}

// holdersOf picks the holders of the file dev/ino out of ls.
func holdersOf(ls []procLock, dev, ino uint64) []KernelHolder {
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	var hs []KernelHolder
	for _, l := range ls {
		if sameDevIno(l.devIno, want) {
			hs = append(hs, l.KernelHolder)
		}
	}
	return hs
}

// FlockPIDs is the set of pids holding any flock (readLocks).
func FlockPIDs() (map[int]bool, error) {
	ls, err := readLocks()
	out := map[int]bool{}
	for _, l := range ls {
		out[l.PID] = true
	}
	return out, err
}

// procLock is one held flock of /proc/locks.
type procLock struct {
	KernelHolder
	devIno string // MAJ:MIN:INO
}

// readLocks reads the flock locks held, from /proc/locks as lslocks(8)
// reads it: lines "ID: FLOCK ADVISORY WRITE|READ PID MAJ:MIN:INO START
// END" (hex major and minor, decimal inode). Waiters ("ID: -> FLOCK ...")
// hold nothing and are left out; so are POSIX and OFD locks, which are not
// what flock(2) and flock(1) take. The pid is the process that took the
// lock; 0 or -1 when the kernel cannot name one.
func readLocks() ([]procLock, error) {
	b, err := os.ReadFile(procLocks)
	if err != nil {
		return nil, err
	}
	return parseLocks(b)
}

// parseLocks parses a /proc/locks table (readLocks).
func parseLocks(b []byte) ([]procLock, error) {
	var out []procLock
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil {
			continue
		}
		out = append(out, procLock{KernelHolder{PID: pid, Shared: f[3] == "READ"}, f[5]})
	}
	return out, sc.Err()
}

// sameDevIno compares /proc/locks's MAJ:MIN:INO with want, allowing for
// the kernel's zero padding of major and minor (2 hex digits at least).
func sameDevIno(got, want string) bool {
	if got == want {
		return true
	}
	g, w := strings.Split(got, ":"), strings.Split(want, ":")
	if len(g) != 3 || len(w) != 3 {
		return false
	}
	for i := 0; i < 2; i++ {
		a, err1 := strconv.ParseUint(g[i], 16, 32)
		b, err2 := strconv.ParseUint(w[i], 16, 32)
		if err1 != nil || err2 != nil || a != b {
			return false
		}
	}
	return g[2] == w[2]
}

// kernelTruth returns who holds the lock on fd's file: rec, the stored
// record, when the kernel names its pid among the holders (or cannot say:
// no holder listed, /proc/locks unreadable, a pid it cannot name, a record
// of another host); else the kernel's holder, marked Foreign: a process
// that wrote no record of its own (flock(1), the old harness), its pid and
// command line from /proc, Since the lockfile's last change (no record:
// the lock is held at most that long). rec then was a previous holder's.
// Under shared holders only, never rec: nil for ccci ones.
func kernelTruth(fd int, rec *lock.Holder) *lock.Holder {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return rec
	}
	hs, err := kernelHolders(st.Dev, st.Ino)
	if err != nil || len(hs) == 0 {
		return rec
	}
	host, _ := os.Hostname()
	if onlyShared(hs) {
		// Shared holders (-s) write no record: rec, whatever pid it
		// names, is an earlier exclusive holder's (TestNonBlockShared).
		// A ccci one is then unknown; another is named as below.
		rec = nil
		for _, k := range hs {
			if isCCCI(k.PID) {
				return nil
			}
		}
	} else if rec != nil && rec.Host != "" && rec.Host != host {
		return rec
	}
	for _, k := range hs {
		if k.PID <= 0 || rec != nil && k.PID == rec.PID {
			return rec
		}
	}
	// A ccci holder: between its flock and its record there are a few
	// microseconds, so wait for its record, briefly (diagnostics only:
	// the lock itself is never polled). None (a shared lock, -s, writes
	// none): an unknown ccci holder, not foreign; rec, if any, is an
	// earlier holder's.
	for _, k := range hs {
		if isCCCI(k.PID) {
			return awaitRecord(fd, hs)
		}
	}
	k := hs[0]
	return &lock.Holder{PID: k.PID, Host: host, Cmd: cmdline(k.PID), Foreign: true,
		Since: time.Unix(st.Mtim.Unix()).UTC()}
}

func onlyShared(hs []KernelHolder) bool {
	for _, k := range hs {
		if !k.Shared {
			return false
		}
	}
	return true
}

// cmdline is pid's command line for humans ("?" when it cannot be read):
// its arguments joined by spaces, cut at 120 bytes.
func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "?"
	}
	s := strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// isCCCI reports whether pid runs this very ccci binary (its
// /proc/PID/exe is our own executable's file).
func isCCCI(pid int) bool {
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return false
	}
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && os.SameFile(self, fi)
}

// Holders lists the kernel's flock holders of the file at path (not
// following a symlink there): what lslocks would show for it.
func Holders(path string) ([]KernelHolder, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return kernelHolders(st.Dev, st.Ino)
}

// awaitRecord rereads fd's record for up to 100ms until it names one of
// hs; nil if it never does.
func awaitRecord(fd int, hs []KernelHolder) *lock.Holder {
	for i := 0; i < 20; i++ {
		if rec, err := readRecord(fd); err == nil {
			for _, k := range hs {
				if k.PID == rec.PID {
					return &rec
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
