package sh

import (
	"fmt"

	"mvdan.cc/sh/v3/syntax"
)

// divVar holds a divisor while the rewritten division tests it for zero.
const divVar = "__ccci_div"

// divisions makes a division or remainder by zero fail as in bash, where the
// interpreter would print "division by zero" and go on with 0 and status 0.
// Every divisor Y of /, %, /= and %= becomes
//
//	(__ccci_div = (Y)) ? __ccci_div : FAIL
//
// (Y evaluated once; the ternary evaluates FAIL only for a zero), where FAIL
// says, as bash does, `NAME: line N: EXPR: division by 0 (error token is
// "TOKEN")`, and then:
//
//   - in an expansion ($((…)), ${v:off:len}), FAIL is ${MESSAGE:?…}: the
//     interpreter's expansion error that ends the shell with status 1, a
//     subshell only the subshell. bash --posix does the same; plain bash
//     abandons the top-level command and reads on, set -e or not. ccci-sh
//     stops the script rather than let a CI step carry on after a failed
//     computation (tests/testdata/sh/bashlike.txtar);
//   - in a command ((( )), let, for (( ))), FAIL is $(@ccci:div0 MESSAGE),
//     an error that fails the command with status 1, as in bash.
//
// An array subscript, read or assigned (${a[1/x]}, a[1/x]=v), is an
// expansion's, as in bash. Not rewritten, so the interpreter's own message
// and 0 stand: an
// expression read from a variable at run time ($((e)) with e='5/x'), and
// the keys of an array literal (a=([1/x]=v)), which the interpreter also
// evaluates as arithmetic for an associative array (m=([text/plain]=v)).
func divisions(f *syntax.File, src []byte, name string) {
	prefix := fmt.Sprintf("ccci-sh: %s: ", name)
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.ArithmExp:
			n.X = divGuard(n.X, src, prefix, "", n.Right.Offset(), false)
		case *syntax.ParamExp:
			n.Index = divGuard(n.Index, src, prefix, "", 0, false)
			if n.Slice != nil {
				n.Slice.Offset = divGuard(n.Slice.Offset, src, prefix, "", 0, false)
				n.Slice.Length = divGuard(n.Slice.Length, src, prefix, "", 0, false)
			}
		case *syntax.Assign:
			n.Index = divGuard(n.Index, src, prefix, "", 0, false)
		case *syntax.ArithmCmd:
			n.X = divGuard(n.X, src, prefix, "((: ", n.Right.Offset(), true)
		case *syntax.LetClause:
			for i, x := range n.Exprs {
				n.Exprs[i] = divGuard(x, src, prefix, "let: ", 0, true)
			}
		case *syntax.CStyleLoop:
			n.Init = divGuard(n.Init, src, prefix, "((: ", 0, true)
			n.Cond = divGuard(n.Cond, src, prefix, "((: ", 0, true)
			n.Post = divGuard(n.Post, src, prefix, "((: ", 0, true)
		}
		return true
	})
}

// divGuard rewrites the divisions of the arithmetic expression root, whose
// source text ends at offset end (0: where root ends). cmd: root is a
// command's, not an expansion's.
func divGuard(root syntax.ArithmExpr, src []byte, prefix, what string, end uint, cmd bool) syntax.ArithmExpr {
	if root == nil {
		return nil
	}
	if end == 0 {
		end = root.End().Offset()
	}
	text := func(from uint) string {
		if from > end || end > uint(len(src)) {
			return "?"
		}
		return string(src[from:end])
	}
	var guard func(x syntax.ArithmExpr)
	guard = func(x syntax.ArithmExpr) {
		switch x := x.(type) {
		case *syntax.ParenArithm:
			guard(x.X)
		case *syntax.UnaryArithm:
			guard(x.X)
		case *syntax.BinaryArithm:
			guard(x.X)
			guard(x.Y)
			switch x.Op {
			case syntax.Quo, syntax.Rem, syntax.QuoAssgn, syntax.RemAssgn:
				where := fmt.Sprintf("%sline %d: %s%s", prefix, x.Y.Pos().Line(), what, text(root.Pos().Offset()))
				why := fmt.Sprintf("division by 0 (error token is %q)", text(x.Y.Pos().Offset()))
				x.Y = divTernary(x.Y, divFail(where, why, cmd))
			}
		}
	}
	guard(root)
	return root
}

// divTernary is (__ccci_div = (y)) ? __ccci_div : fail.
func divTernary(y syntax.ArithmExpr, fail *syntax.Word) syntax.ArithmExpr {
	return &syntax.ParenArithm{X: &syntax.BinaryArithm{
		Op: syntax.TernQuest,
		X: &syntax.ParenArithm{X: &syntax.BinaryArithm{
			Op: syntax.Assgn, X: lit(divVar), Y: &syntax.ParenArithm{X: y},
		}},
		Y: &syntax.BinaryArithm{Op: syntax.TernColon, X: lit(divVar), Y: fail},
	}}
}

// divFail is the word that fails, saying "where: why": in an expansion
// ${where:?why}, an unset parameter (no variable can have that name) that
// ends the shell, the interpreter printing "NAME: MESSAGE"; in a command
// $(@ccci:div0 'where: why'), whose error fails the command.
func divFail(where, why string, cmd bool) *syntax.Word {
	if cmd {
		call := &syntax.CallExpr{Args: []*syntax.Word{lit(internal + "div0"),
			{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: where + ": " + why}}}}}
		return &syntax.Word{Parts: []syntax.WordPart{&syntax.CmdSubst{Stmts: []*syntax.Stmt{{Cmd: call}}}}}
	}
	return &syntax.Word{Parts: []syntax.WordPart{&syntax.ParamExp{
		Param: &syntax.Lit{Value: where},
		Exp: &syntax.Expansion{Op: syntax.ErrorUnsetOrNull,
			Word: &syntax.Word{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: why}}}},
	}}}
}
