package cluster

import "sort"

// State is a member's status as seen by the local node.
type State string

const (
	Alive   State = "alive"
	Leaving State = "leaving"
	Left    State = "left"
	Failed  State = "failed"
)

// Member is one node as the cluster sees it.
type Member struct {
	Name        string `json:"name"`         // unique node name
	Addr        string `json:"address"`      // Flight URI, e.g. grpc://127.0.0.1:8815
	Gossip      string `json:"gossip"`       // host:port of its gossip endpoint
	Cores       int    `json:"cores"`        // advertised CPU cores
	MemoryBytes int64  `json:"memory_bytes"` // advertised memory
	State       State  `json:"state"`
}

// Membership is what the scheduler needs from cluster membership.
type Membership interface {
	// Self is the local node.
	Self() Member
	// Members lists every member known, in any state, sorted by Name.
	Members() []Member
	// Alive lists only alive members (Self included), sorted by Name.
	Alive() []Member
	// Changes receives a value whenever membership changes. Sends never
	// block and are coalesced (buffer 1): after a receive, re-read Members.
	Changes() <-chan struct{}
	// Leave leaves gracefully and shuts down; calling it again is a no-op.
	Leave() error
}

func sortByName(ms []Member) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
}

func onlyAlive(ms []Member) []Member {
	out := ms[:0:0]
	for _, m := range ms {
		if m.State == Alive {
			out = append(out, m)
		}
	}
	return out
}

// notify signals ch without blocking; a pending signal already covers this one.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
