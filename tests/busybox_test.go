package tests

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestBusybox(t *testing.T) { testscript.Run(t, params("busybox")) }
