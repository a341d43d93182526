//go:build linux && !amd64

package lifetime

// tinyInit is empty where tinyinit/init.c has no port: the Go init
// (InitMain) is the PID-namespace init there.
var tinyInit []byte
