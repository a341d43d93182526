//go:build !unix

package httpc

// quiet cannot look at the socket here; roundTrip copes with a kept
// connection the server closed, for all but a POST.
func (cn *conn) quiet() bool { return cn.br.Buffered() == 0 }
