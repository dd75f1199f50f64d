package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func openMem(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore("", StoreOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestGrainStoreIsolationAndList(t *testing.T) {
	s := openMem(t)
	a, _ := s.Grain("session", "a")
	ab, _ := s.Grain("session", "a/b") // must not see a's keys, nor a see its
	for i := 1; i <= 5; i++ {
		if err := a.Put(fmt.Sprintf("log/%03d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ab.Put("log/999", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := a.Put("state", []byte("s")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := a.List("log/", "log/002", 2, func(k string, v []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "log/003,log/004" {
		t.Fatalf("list after log/002 limit 2 = %v", keys)
	}
	k, v, err := a.Last("log/")
	if err != nil || k != "log/005" || v[0] != 5 {
		t.Fatalf("last = %q %v %v", k, v, err)
	}
	if _, _, err := ab.Last("state"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other grain sees state: %v", err)
	}
	if err := a.Delete("state"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get("state"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	if err := a.DeleteAll(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Last("log/"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after DeleteAll: %v", err)
	}
	if _, err := ab.Get("log/999"); err != nil {
		t.Fatalf("DeleteAll of a removed a/b's key: %v", err)
	}
}

func TestBatchIsAtomicAndValidated(t *testing.T) {
	s := openMem(t)
	g, _ := s.Grain("k", "i")
	b := g.NewBatch()
	b.Put("x", []byte("1"))
	b.Put("", []byte("bad")) // invalid key poisons the batch
	if err := b.Commit(); !errors.Is(err, ErrBadName) {
		t.Fatalf("commit with bad key: %v", err)
	}
	if _, err := g.Get("x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("partial write visible: %v", err)
	}
	if err := b.Commit(); err == nil {
		t.Fatal("second commit accepted")
	}
	if _, err := s.Grain("k", ""); !errors.Is(err, ErrBadName) {
		t.Fatalf("empty identity: %v", err)
	}
	if _, err := s.Grain("k\x00", "i"); !errors.Is(err, ErrBadName) {
		t.Fatalf("NUL in kind: %v", err)
	}
	due := time.Unix(1_800_000_000, 5)
	b2 := g.NewBatch()
	b2.Put("y", []byte("2"))
	b2.SetAlarm(due)
	if err := b2.Commit(); err != nil {
		t.Fatal(err)
	}
	got, ok, err := g.Alarm()
	if err != nil || !ok || !got.Equal(due) {
		t.Fatalf("alarm = %v %v %v", got, ok, err)
	}
	all, _ := s.Alarms()
	if len(all) != 1 || all[0].Kind != "k" || all[0].Identity != "i" {
		t.Fatalf("alarms = %+v", all)
	}
	if del, _ := s.deleteAlarmIf("k", "i", due.Add(1), nil); del {
		t.Fatal("deleted an alarm with another due time")
	}
	if del, _ := s.deleteAlarmIf("k", "i", due, nil); !del {
		t.Fatal("did not delete the matching alarm")
	}
}
