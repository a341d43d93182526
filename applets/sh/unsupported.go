package sh

import (
	"fmt"
	"strconv"

	"mvdan.cc/sh/v3/syntax"
)

// unsupported finds the first construct that the embedded interpreter
// cannot run as bash does and that would otherwise fail only at run time,
// with an internal message, while the script carries on: a coprocess, a
// file descriptor above 2 (exec 3>file, >&3), a division by a literal
// zero. ccci-sh refuses such a script before running any of it, naming the
// construct and its line (tests/testdata/sh/bashlike.txtar).
func unsupported(f *syntax.File) error {
	var err error
	syntax.Walk(f, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.CoprocClause:
			err = refuse(n.Pos(), "coproc")
		case *syntax.Redirect:
			if n.N != nil {
				if fd, _ := strconv.Atoi(n.N.Value); fd > 2 {
					err = refuse(n.Pos(), "redirection of file descriptor "+n.N.Value)
				}
			}
			if n.Op == syntax.DplOut || n.Op == syntax.DplIn {
				if fd, e := strconv.Atoi(n.Word.Lit()); e == nil && fd > 2 {
					err = refuse(n.Pos(), "redirection to file descriptor "+n.Word.Lit())
				}
			}
		case *syntax.BinaryArithm:
			switch n.Op {
			case syntax.Quo, syntax.Rem, syntax.QuoAssgn, syntax.RemAssgn:
				if w, ok := n.Y.(*syntax.Word); ok && isZero(w.Lit()) {
					err = fmt.Errorf("line %d: division by zero (bash stops the script there; the interpreter would go on with 0)", n.Pos().Line())
				}
			}
		}
		return true
	})
	return err
}

func isZero(s string) bool {
	n, err := strconv.ParseInt(s, 0, 64)
	return err == nil && n == 0
}

func refuse(p syntax.Pos, what string) error {
	return fmt.Errorf("line %d: %s is not supported by ccci-sh (bash would run it; refusing the whole script)", p.Line(), what)
}
