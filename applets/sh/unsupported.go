package sh

import (
	"fmt"
	"strconv"

	"mvdan.cc/sh/v3/syntax"
)

// unsupported finds the first construct that the embedded interpreter
// cannot run as bash does and that would otherwise fail only at run time,
// with an internal message, while the script carries on: a coprocess, a
// file descriptor above 2 (exec 3>file, >&3). ccci-sh refuses such a
// script before running any of it, naming the construct and its line
// (tests/testdata/sh/bashlike.txtar). A division by zero is not refused
// but fails when it happens, as in bash (divisions).
func unsupported(f *syntax.File) error {
	var err error
	syntax.Walk(f, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.CoprocClause:
			err = refuse(n.Pos(), "coproc")
		case *syntax.BinaryArithm:
			if isAssign(n.Op) {
				err = refuseElem(n.X)
			}
		case *syntax.UnaryArithm:
			if n.Op == syntax.Inc || n.Op == syntax.Dec {
				err = refuseElem(n.X)
			}
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
		}
		return true
	})
	return err
}

// refuseElem refuses x as the target of an arithmetic assignment when it
// is an array element: mvdan.cc/sh v3.14 panics on `(( a[1] = 3 ))` and
// `(( a[1]++ ))`, and on a pipeline's left side that panic is beyond any
// recover (a goroutine dump, no EXIT trap).
func refuseElem(x syntax.ArithmExpr) error {
	w, ok := x.(*syntax.Word)
	if !ok || len(w.Parts) != 1 {
		return nil
	}
	if pe, ok := w.Parts[0].(*syntax.ParamExp); ok && pe.Index != nil && pe.Param != nil {
		return refuse(x.Pos(), "arithmetic assignment to an array element ("+pe.Param.Value+"[...])")
	}
	return nil
}

func isAssign(op syntax.BinAritOperator) bool {
	switch op {
	case syntax.Assgn, syntax.AddAssgn, syntax.SubAssgn, syntax.MulAssgn,
		syntax.QuoAssgn, syntax.RemAssgn, syntax.AndAssgn, syntax.OrAssgn,
		syntax.XorAssgn, syntax.ShlAssgn, syntax.ShrAssgn:
		return true
	}
	return false
}

func refuse(p syntax.Pos, what string) error {
	return fmt.Errorf("line %d: %s is not supported by ccci-sh (bash would run it; refusing the whole script)", p.Line(), what)
}
