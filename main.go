// Command ccci makes CI that deploys real apps to a shared server safe under
// concurrency, cancellation and crashes. It is one binary with several
// applets, chosen by the name it is called by (ccci-lock) or by its first
// argument (ccci lock); see busybox.go and README.md.
//
// ccci is Linux-only (PID namespaces, PR_SET_PDEATHSIG, /proc): built for
// another system, it stops at internal/lifetime and internal/proc, whose
// files are all for linux ("build constraints exclude all Go files").
package main

import "os"

func main() { os.Exit(dispatch(os.Args)) }
