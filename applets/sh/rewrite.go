package sh

import (
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// subVar marks a subshell: bash resets traps in subshells, so a pending
// signal trap must never run (nor exit) inside one.
const subVar = "__ccci_sub"

// fnVar is set (local) while a function of the script runs.
const fnVar = "__ccci_fn"

// rewrite adapts a parsed script to ccci-sh's process model, before it runs:
//
//   - "CMD ARG... &", a simple command that is not a function or builtin,
//     becomes "@ccci:bg CMD ARG...": ccci-sh starts it as a real child
//     process, so $!, kill and wait act on a real pid;
//   - any other background statement stays the interpreter's goroutine
//     subshell, marked as a subshell, and $! then reads its "gN" id;
//   - ( ), $( ), <( ) and the left sides of pipes are marked as subshells;
//   - $! reads ccci-sh's record of the last background pid.
func rewrite(f *syntax.File) {
	funcs := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		if fd, ok := n.(*syntax.FuncDecl); ok && fd.Name != nil {
			funcs[fd.Name.Value] = true
			// "local __ccci_fn=1" first: the ERR trap, as in bash without
			// errtrace, does not fire inside a function (errTrap).
			fd.Body = &syntax.Stmt{Cmd: &syntax.Block{Stmts: []*syntax.Stmt{{Cmd: &syntax.DeclClause{
				Variant: &syntax.Lit{Value: "local"},
				Args:    []*syntax.Assign{{Name: &syntax.Lit{Value: fnVar}, Value: lit("1")}},
			}}, fd.Body}}}
		}
		return true
	})
	done := map[*syntax.Stmt]bool{}
	raw := map[*syntax.ParamExp]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			if (!n.Background && !n.Disown) || done[n] || n.Coprocess {
				break
			}
			if call, ok := n.Cmd.(*syntax.CallExpr); ok && len(call.Args) > 0 && !inShell(call.Args[0], funcs) {
				n.Background, n.Disown = false, false
				call.Args = append([]*syntax.Word{lit(internal + "bg")}, call.Args...)
				break
			}
			// The redirections go with the job: the block ends before it.
			inner := &syntax.Stmt{Cmd: marked(&syntax.Stmt{Cmd: n.Cmd}), Background: true,
				Redirs: n.Redirs, Negated: n.Negated}
			n.Redirs, n.Negated = nil, false
			done[inner] = true
			last := &syntax.ParamExp{Short: true, Param: &syntax.Lit{Value: "!"}}
			raw[last] = true
			setlast := &syntax.Stmt{Cmd: &syntax.CallExpr{Args: []*syntax.Word{
				lit(internal + "setlast"), {Parts: []syntax.WordPart{last}}}}}
			n.Cmd, n.Background, n.Disown = &syntax.Block{Stmts: []*syntax.Stmt{inner, setlast}}, false, false
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				n.X = &syntax.Stmt{Cmd: marked(n.X)}
			}
		case *syntax.Subshell:
			n.Stmts = append([]*syntax.Stmt{marker()}, n.Stmts...)
		case *syntax.CmdSubst:
			n.Stmts = append([]*syntax.Stmt{marker()}, n.Stmts...)
		case *syntax.ProcSubst:
			n.Stmts = append([]*syntax.Stmt{marker()}, n.Stmts...)
		case *syntax.ParamExp:
			if n.Param != nil && n.Param.Value == "!" && !raw[n] {
				n.Param = &syntax.Lit{Value: lastBgVar}
			}
		}
		return true
	})
}

// inShell reports whether a command word names something that runs inside
// the shell (a function of this script, or a builtin), or cannot be told
// statically (then @ccci:bg decides at run time).
func inShell(w *syntax.Word, funcs map[string]bool) bool {
	name := w.Lit()
	return name != "" && (funcs[name] || interp.IsBuiltin(name))
}

func marker() *syntax.Stmt {
	return &syntax.Stmt{Cmd: &syntax.CallExpr{Assigns: []*syntax.Assign{{
		Name: &syntax.Lit{Value: subVar}, Value: lit("1")}}}}
}

// marked wraps st in a block that first marks the subshell running it.
func marked(st *syntax.Stmt) *syntax.Block {
	return &syntax.Block{Stmts: []*syntax.Stmt{marker(), st}}
}
