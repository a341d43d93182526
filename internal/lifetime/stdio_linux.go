package lifetime

import (
	"io"
	"os"
	"sync"
	"time"
)

// stdio hands the command its three streams: *os.File as is, anything else
// through a pipe and a copying goroutine, nil as /dev/null.
type stdio struct {
	files  [3]*os.File
	child  []*os.File // our copies of the child's ends, closed once started
	parent []*os.File // our ends of the pipes, closed at the end
	copies sync.WaitGroup
}

func newStdio(c Cmd) (*stdio, error) {
	s := &stdio{}
	var err error
	if s.files[0], err = s.in(c.Stdin); err == nil {
		if s.files[1], err = s.out(c.Stdout); err == nil {
			s.files[2], err = s.out(c.Stderr)
		}
	}
	if err != nil {
		s.started()
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *stdio) in(r io.Reader) (*os.File, error) {
	switch r := r.(type) {
	case nil:
		return s.devNull(os.O_RDONLY)
	case *os.File:
		return r, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.child, s.parent = append(s.child, pr), append(s.parent, pw)
	// Not waited for: r may never reach EOF. close() ends its writes.
	go func() {
		io.Copy(pw, r)
		pw.Close()
	}()
	return pr, nil
}

func (s *stdio) out(w io.Writer) (*os.File, error) {
	switch w := w.(type) {
	case nil:
		return s.devNull(os.O_WRONLY)
	case *os.File:
		return w, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.child, s.parent = append(s.child, pw), append(s.parent, pr)
	s.copies.Add(1)
	go func() {
		defer s.copies.Done()
		io.Copy(w, pr)
	}()
	return pw, nil
}

func (s *stdio) devNull(flag int) (*os.File, error) {
	f, err := os.OpenFile(os.DevNull, flag, 0)
	if err == nil {
		s.child = append(s.child, f)
	}
	return f, err
}

// started closes our copies of the child's ends, so that its exit gives EOF.
func (s *stdio) started() {
	for _, f := range s.child {
		f.Close()
	}
	s.child = nil
}

// wait waits for the output copies: once the tree is gone every writer is
// closed, so they end. The bound is for the fallback mode, where a process
// that escaped may still hold a pipe.
func (s *stdio) wait(bound time.Duration) {
	done := make(chan struct{})
	go func() {
		s.copies.Wait()
		close(done)
	}()
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (s *stdio) close() {
	s.started()
	for _, f := range s.parent {
		f.Close()
	}
}
