package lock

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal: tcgetattr, which is the
// TCGETS ioctl on Linux (ccci builds for Linux only).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
