package cluster

import (
	"fmt"

	"github.com/cockroachdb/pebble/vfs"
)

func vfsNewMem() vfs.FS { return vfs.NewMem() }

// quietLogger drops Pebble's informational logs; errors surface as returned
// errors. Fatalf must not return, so it panics as Pebble's default does.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
