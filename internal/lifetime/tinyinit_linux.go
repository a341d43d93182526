package lifetime

//go:generate sh tinyinit/gen.sh

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// tinyFD is where the tiny init's memfd sits in the init's fd table; the
// init closes it first thing, so the command never sees it
// (testdata/script/fds.txtar).
const tinyFD = 4

var (
	tinyOnce sync.Once
	tinyFile *os.File // nil: no tiny init on this arch, or it cannot be made
	tinyErr  error
	tinyOff  atomic.Bool // the tiny init failed where the Go init started
)

// tinyInitFile returns a sealed memfd holding tinyinit/init.c's binary,
// made once per process. The tiny init replaces the re-execution of ccci as
// the PID-namespace init (MODE "ns"), saving a whole Go start per run.
func tinyInitFile() (*os.File, error) {
	tinyOnce.Do(func() {
		if len(tinyInit) == 0 {
			tinyErr = fmt.Errorf("no tiny init for this architecture")
			return
		}
		flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
		fd, err := unix.MemfdCreate("ccci-init", flags|unix.MFD_EXEC)
		if err == unix.EINVAL { // a kernel before 6.3 has no MFD_EXEC
			fd, err = unix.MemfdCreate("ccci-init", flags)
		}
		if err != nil {
			tinyErr = fmt.Errorf("memfd_create: %w", err)
			return
		}
		f := os.NewFile(uintptr(fd), "memfd:ccci-init")
		if err := writeSealed(fd, tinyInit); err != nil {
			f.Close()
			tinyErr = err
			return
		}
		tinyFile = f
	})
	return tinyFile, tinyErr
}

// writeSealed writes b and seals the memfd: nobody, us included, can change
// the init afterwards, and exec of it cannot meet ETXTBSY from a writer.
func writeSealed(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("write memfd: %w", err)
		}
		b = b[n:]
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("seal memfd: %w", err)
	}
	return nil
}
