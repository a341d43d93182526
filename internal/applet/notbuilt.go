package applet

// NotBuilt is the Main of an applet that is registered but not built yet:
// it answers -h with the planned usage, and otherwise says so and exits 2.
func NotBuilt(env *Env, prog, usage string, args []string) int {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			env.Stdout.Write([]byte(usage))
			return ExitOK
		}
	}
	env.Errorf(prog, "not built yet")
	return ExitUsage
}
