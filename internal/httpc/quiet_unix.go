//go:build unix

package httpc

import "syscall"

// quiet reports whether the server has neither closed cn nor written on
// it while it was idle, looking without waiting. A closed one would fail
// a POST that could not be sent again (TestServerClosedKept/POST_closed_
// while_idle); what was written (a 408) would be taken for the next
// request's answer (.../answer_sent_while_idle). A read deadline in the
// past cannot look: Go fails the read before it reaches the socket.
func (cn *conn) quiet() bool {
	if cn.br.Buffered() > 0 {
		return false
	}
	sc, ok := cn.Conn.(syscall.Conn)
	if !ok {
		return true // cannot look; roundTrip copes with a closed one
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	quiet := true
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		quiet = err == syscall.EAGAIN // nothing to read: neither data nor the end
		return true
	})
	return quiet
}
