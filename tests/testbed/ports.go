package testbed

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
)

var portSeq atomic.Int32

// FreePorts finds n consecutive free loopback ports and returns the first,
// so that test etcd clusters of different scripts, packages and concurrent
// `go test` runs never meet (the sequence spreads callers of one process,
// the random part separate processes). They are taken below the kernel's
// ephemeral range (32768 and up by default), where an outgoing connection
// could grab a port between this probe and the cluster binding it.
func FreePorts(n int) (int, error) {
	for try := 0; try < 100; try++ {
		base := 20000 + 10*((int(portSeq.Add(1))+rand.IntN(1200))%1200)
		var ls []net.Listener
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == n {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d free consecutive loopback ports", n)
}
