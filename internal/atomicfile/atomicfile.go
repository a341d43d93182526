// Package atomicfile replaces a file's content so that a reader, or a crash
// at any moment, sees either the old content or the new, never a mix or an
// empty file (the shape of google/renameio): write a temp file on the same
// file system, fsync it, rename it over the target, fsync the directory.
// Run-state counters (internal/runstate) and the janitor's Prometheus
// textfile (internal/janitor) are written this way.
package atomicfile

import (
	"os"
	"path/filepath"
)

// TempPattern is the os.CreateTemp pattern of dst's temp files: its base
// name, '~', a random suffix. A caller can find what a crash between write
// and rename left with filepath.Glob; no Prometheus textfile collector reads
// such a name (it wants *.prom).
func TempPattern(dst string) string { return filepath.Base(dst) + "~*" }

// Write replaces dst with data, mode perm. The temp file goes in tmpDir
// ("" means dst's own directory), which must be on dst's file system for
// the rename to be atomic. Why fsync before the rename: without it a crash
// can leave the new name on an empty file; and after it, the directory, so
// the rename itself survives a crash.
func Write(tmpDir, dst string, data []byte, perm os.FileMode) error {
	return WriteHooked(tmpDir, dst, data, perm, nil)
}

// WriteHooked is Write calling beforeRename (when not nil) with the temp
// file's name once the new content is written, synced and closed, just
// before the rename: a test kills the process there to show that a crash
// mid-write leaves the old content (internal/runstate
// TestIncrKilledMidWrite).
func WriteHooked(tmpDir, dst string, data []byte, perm os.FileMode, beforeRename func(tmp string)) error {
	if tmpDir == "" {
		tmpDir = filepath.Dir(dst)
	}
	f, err := os.CreateTemp(tmpDir, TempPattern(dst))
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	// One err for every step: a Write error (ENOSPC, EFBIG) must not be
	// lost, or an empty temp file is renamed over the old content
	// (TestWriteFullDisk).
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if beforeRename != nil {
		beforeRename(tmp)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
