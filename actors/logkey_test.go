package actors

import (
	"fmt"
	"testing"
)

func TestLogKeyFormat(t *testing.T) {
	for _, s := range []uint64{0, 1, 42, 1 << 40, 18446744073709551615} {
		if logKey(s) != fmt.Sprintf("log/%020d", s) {
			t.Fatal(s, logKey(s))
		}
	}
}
