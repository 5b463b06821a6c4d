package cluster

import "sync"

// Fake is an in-memory Membership for scheduler tests without gossip.
type Fake struct {
	mu      sync.Mutex
	self    string
	members map[string]Member
	changes chan struct{}
}

var _ Membership = (*Fake)(nil)

// NewFake returns a Fake whose given members are all Alive.
func NewFake(self Member, others ...Member) *Fake {
	f := &Fake{self: self.Name, members: map[string]Member{}, changes: make(chan struct{}, 1)}
	for _, m := range append([]Member{self}, others...) {
		m.State = Alive
		f.members[m.Name] = m
	}
	return f
}

func (f *Fake) Self() Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members[f.self]
}

func (f *Fake) Members() []Member {
	f.mu.Lock()
	out := make([]Member, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, m)
	}
	f.mu.Unlock()
	sortByName(out)
	return out
}

func (f *Fake) Alive() []Member { return onlyAlive(f.Members()) }

func (f *Fake) Changes() <-chan struct{} { return f.changes }

// Leave marks the local node Left.
func (f *Fake) Leave() error {
	f.setState(f.self, Left)
	return nil
}

// Join adds m, or revives it, as Alive.
func (f *Fake) Join(m Member) {
	m.State = Alive
	f.mu.Lock()
	f.members[m.Name] = m
	f.mu.Unlock()
	notify(f.changes)
}

// Fail marks the named member Failed.
func (f *Fake) Fail(name string) { f.setState(name, Failed) }

// Remove marks the named member Left.
func (f *Fake) Remove(name string) { f.setState(name, Left) }

func (f *Fake) setState(name string, s State) {
	f.mu.Lock()
	m, ok := f.members[name]
	changed := ok && m.State != s
	if changed {
		m.State = s
		f.members[name] = m
	}
	f.mu.Unlock()
	if changed {
		notify(f.changes)
	}
}
