package janitor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"git.coopcloud.tech/toolshed/ccci/internal/runstate"
)

// liveLockName is the file ccci-runstate init makes first in every run
// directory (runstate's live-lock).
const liveLockName = "live.lock"

// foreignRun reports, and leaves alone, a run directory ccci cannot prove
// it created: one with no live-lock. The old harness kept its runs in the
// same runs dir without one, and its runs live as long as it holds its
// app lock, which the janitor cannot tie to a directory: such a directory
// is never removed, and never a leak. (A ccci run between mkdir and the
// live-lock's creation is spared the same way.)
func (p *pass) foreignRun(id string, info runstate.Info) bool {
	_, err := os.Lstat(filepath.Join(info.Dir, liveLockName))
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	p.add(Item{Action: Live, Kind: "rundir", Name: info.Dir, Run: id,
		Detail: "foreign: no " + liveLockName + ", not made by ccci-runstate; left alone"})
	return true
}
