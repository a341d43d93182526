package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// inittrace runs CMD n times under GODEBUG=inittrace=1 and prints, as
// medians over the runs: the number of Go processes started (a re-executed
// ccci counts), the init ms of each, their sum, and the top K packages by
// init ms summed over the processes of one run.
//
//	procs 2 init_ms 21.3 per_proc 10.9,10.4 allocs_kb 2439
//	pkg ms
func inittrace(args []string) {
	n, top := atoi(args[0]), 10
	args = args[1:]
	if len(args) > 1 && args[0] == "-top" {
		top, args = atoi(args[1]), args[2:]
	}
	var sums, kb []float64
	var perProc [][]float64
	pkgs := map[string][]float64{}
	nproc := 0
	for i := 0; i < n; i++ {
		c := exec.Command(args[0], args[1:]...)
		c.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var errb bytes.Buffer
		c.Stderr = &errb
		c.Run() // the status is the command's business; the trace is ours
		procs, sum, bytes := []float64{}, 0.0, 0.0
		run := map[string]float64{}
		sc := bufio.NewScanner(&errb)
		for sc.Scan() {
			// init PKG @T ms, C ms clock, B bytes, A allocs
			f := strings.Fields(sc.Text())
			if len(f) < 8 || f[0] != "init" {
				continue
			}
			if f[1] == "internal/bytealg" { // the first init of every Go process
				procs = append(procs, 0)
			}
			c, _ := strconv.ParseFloat(f[4], 64)
			b, _ := strconv.ParseFloat(f[7], 64)
			if len(procs) == 0 {
				procs = append(procs, 0)
			}
			procs[len(procs)-1] += c
			sum += c
			bytes += b
			run[f[1]] += c
		}
		nproc = len(procs)
		sums = append(sums, sum)
		kb = append(kb, bytes/1024)
		perProc = append(perProc, procs)
		for p, c := range run {
			pkgs[p] = append(pkgs[p], c)
		}
	}
	var pp []string
	for j := 0; j < nproc; j++ {
		var v []float64
		for _, p := range perProc {
			if j < len(p) {
				v = append(v, p[j])
			}
		}
		pp = append(pp, fmt.Sprintf("%.1f", median(v)))
	}
	fmt.Printf("procs %d init_ms %.1f per_proc %s alloc_kb %.0f\n", nproc, median(sums), strings.Join(pp, ","), median(kb))
	type pc struct {
		p string
		c float64
	}
	var all []pc
	for p, v := range pkgs {
		for len(v) < n {
			v = append(v, 0)
		}
		all = append(all, pc{p, median(v)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].c > all[j].c })
	groups := map[string]float64{}
	for _, x := range all {
		groups[group(x.p)] += x.c
	}
	var gs []pc
	for g, c := range groups {
		gs = append(gs, pc{g, c})
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].c > gs[j].c })
	fmt.Printf("packages %d\n", len(all))
	for _, x := range all[:min(top, len(all))] {
		fmt.Printf("pkg %s %.2f\n", x.p, x.c)
	}
	for _, x := range gs[:min(top, len(gs))] {
		fmt.Printf("module %s %.2f\n", x.p, x.c)
	}
}

// group is the module-ish prefix of a package path, for the breakdown:
// "std" for the standard library, else the first three elements.
func group(p string) string {
	e := strings.Split(p, "/")
	if !strings.Contains(e[0], ".") {
		return "std"
	}
	return strings.Join(e[:min(3, len(e))], "/")
}
