package cluster

import "testing"

func changed(f *Fake) bool {
	select {
	case <-f.Changes():
		return true
	default:
		return false
	}
}

func TestFake(t *testing.T) {
	f := NewFake(Member{Name: "b", Addr: "grpc://b"}, Member{Name: "a", State: Failed}, Member{Name: "c"})
	if got := names(f.Alive()); got != "a=alive,b=alive,c=alive" {
		t.Fatalf("Alive = %s", got)
	}
	if s := f.Self(); s.Name != "b" || s.Addr != "grpc://b" || s.State != Alive {
		t.Fatalf("Self = %+v", s)
	}
	if changed(f) {
		t.Fatal("change signalled before any change")
	}

	f.Fail("c")
	f.Fail("c") // no second change: already failed
	if !changed(f) || changed(f) {
		t.Fatal("Fail: want exactly one coalesced signal")
	}
	if got := names(f.Alive()); got != "a=alive,b=alive" {
		t.Fatalf("Alive after Fail = %s", got)
	}
	if got := names(f.Members()); got != "a=alive,b=alive,c=failed" {
		t.Fatalf("Members after Fail = %s", got)
	}

	f.Remove("a")
	if !changed(f) || stateOf(f, "a") != Left {
		t.Fatalf("Remove: members = %s", names(f.Members()))
	}

	f.Join(Member{Name: "c", Cores: 8})
	f.Join(Member{Name: "d"})
	if !changed(f) || changed(f) {
		t.Fatal("Join: want one coalesced signal")
	}
	if got := names(f.Alive()); got != "b=alive,c=alive,d=alive" {
		t.Fatalf("Alive after Join = %s", got)
	}

	if err := f.Leave(); err != nil || f.Self().State != Left {
		t.Fatalf("Leave: %v, self %+v", err, f.Self())
	}
	f.Fail("nobody") // unknown names are ignored
}
