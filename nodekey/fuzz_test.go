package nodekey

import "testing"

// Parse takes a file an operator wrote: anything is refused or read, never
// a panic; a ring it returns seals and opens.
func FuzzParse(f *testing.F) {
	k, _ := Generate("k1")
	f.Add(k.Line())
	f.Add("# c\n" + k.Line() + ",k2:" + k.Line()[3:])
	f.Add("k1 !!")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			return
		}
		id, sealed, err := r.Seal([]byte("v"), []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := r.Open(id, sealed, []byte("ad")); err != nil || string(v) != "v" {
			t.Fatalf("round trip: %q %v", v, err)
		}
	})
}

// Open takes stored bytes: anything that was not sealed by the ring is
// refused, never a panic.
func FuzzOpen(f *testing.F) {
	k, _ := Generate("k1")
	r, _ := New(k)
	_, sealed, _ := r.Seal([]byte("secret"), []byte("u"))
	f.Add("k1", sealed, []byte("u"))
	f.Add("k1", []byte{}, []byte("u"))
	f.Add("k9", sealed, []byte("u"))
	f.Fuzz(func(t *testing.T, id string, b, ad []byte) {
		v, err := r.Open(id, b, ad)
		if err == nil && (string(v) != "secret" || string(ad) != "u") {
			t.Fatalf("opened %q under ad %q", v, ad)
		}
	})
}
