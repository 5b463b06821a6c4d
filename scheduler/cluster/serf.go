package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Serf tags carrying what the scheduler needs about a node.
const (
	tagFlight = "flight"
	tagCores  = "cores"
	tagMem    = "mem"
)

// DefaultBind is the gossip endpoint used when Config.Bind is empty (Serf's usual port).
const DefaultBind = "0.0.0.0:7946"

// Config configures Start.
type Config struct {
	Name        string       // node name; default: derived from Addr (host:port), else hostname:gossip-port
	Bind        string       // gossip host:port to bind; port 0 picks a free one; default DefaultBind
	Join        []string     // gossip host:port of existing members; empty: a new one-node cluster
	EncryptKey  string       // optional base64 of a 16/24/32-byte key shared by all members
	Addr        string       // this node's Flight URI, advertised in tags
	Cores       int          // advertised CPU cores
	MemoryBytes int64        // advertised memory
	Logger      *slog.Logger // receives Serf/memberlist logs at debug level; nil: discard
}

// Serf is the Membership backed by a real Serf agent.
type Serf struct {
	serf    *serf.Serf
	changes chan struct{}
	done    chan struct{} // closed when the event drainer exits

	leaveOnce sync.Once
	leaveErr  error
}

var _ Membership = (*Serf)(nil)

// portAttempts bounds retries when a port we picked is taken before Serf binds it.
const portAttempts = 5

// Start creates the Serf agent, joins cfg.Join and returns the live membership.
// It fails if cfg.Join is non-empty and none of those addresses could be joined.
func Start(cfg Config) (*Serf, error) {
	var key []byte
	if cfg.EncryptKey != "" {
		var err error
		if key, err = parseKey(cfg.EncryptKey); err != nil {
			return nil, err
		}
	}
	bind := cfg.Bind
	if bind == "" {
		bind = DefaultBind
	}
	host, portStr, err := net.SplitHostPort(bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: bad gossip bind address %q (want host:port): %w", bind, err)
	}
	if host == "" {
		host = "0.0.0.0" // memberlist needs an explicit address
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("cluster: bad gossip port in %q", bind)
	}
	logger := stdLogger(cfg.Logger)

	var s *Serf
	for attempt := 1; ; attempt++ {
		p := port
		if p == 0 {
			if p, err = freePort(host); err != nil {
				return nil, err
			}
		}
		s, err = create(cfg, host, p, key, logger)
		if err == nil {
			break
		}
		// Someone else may grab a port between our probe and Serf's bind.
		if port != 0 || attempt >= portAttempts || !strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("cluster: starting gossip on %s: %w", net.JoinHostPort(host, strconv.Itoa(p)), err)
		}
	}

	if len(cfg.Join) > 0 {
		n, err := s.serf.Join(cfg.Join, true)
		if n == 0 {
			_ = s.Shutdown()
			if err == nil {
				err = errors.New("no member answered")
			}
			return nil, fmt.Errorf("cluster: could not join any of %s: %w", strings.Join(cfg.Join, ", "), flatten(err))
		}
		if err != nil {
			logger.Printf("[WARN] cluster: joined %d of %v: %v", n, cfg.Join, flatten(err))
		}
	}
	return s, nil
}

func create(cfg Config, host string, port int, key []byte, logger *log.Logger) (*Serf, error) {
	ml := memberlist.DefaultLocalConfig()
	ml.BindAddr = host
	ml.BindPort = port
	ml.AdvertisePort = port
	// Fast failure detection (a few seconds on loopback/LAN); awareness
	// (Lifeguard) backs probes off when this node itself is slow.
	ml.ProbeInterval = 500 * time.Millisecond
	ml.ProbeTimeout = 200 * time.Millisecond
	ml.SuspicionMult = 3
	ml.SuspicionMaxTimeoutMult = 4
	// A node restarted on another port may take its name back once the old one is dead.
	ml.DeadNodeReclaimTime = 2 * time.Second
	ml.SecretKey = key
	ml.Logger = logger
	ml.LogOutput = nil

	sc := serf.DefaultConfig()
	sc.NodeName = nodeName(cfg, port)
	sc.Tags = map[string]string{
		tagFlight: cfg.Addr,
		tagCores:  strconv.Itoa(cfg.Cores),
		tagMem:    strconv.FormatInt(cfg.MemoryBytes, 10),
	}
	sc.MemberlistConfig = ml
	sc.Logger = logger
	sc.LogOutput = nil // Serf refuses both Logger and LogOutput
	// Retry failed members often so a healed partition merges quickly;
	// failed/left members stay listed (default 24h) rather than vanish.
	sc.ReconnectInterval = 5 * time.Second
	// Serf blocks its state machine on this channel; run() drains it.
	events := make(chan serf.Event, 256)
	sc.EventCh = events

	sf, err := serf.Create(sc)
	if err != nil {
		return nil, err
	}
	s := &Serf{serf: sf, changes: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run(events)
	return s, nil
}

// run drains Serf's events, turning member events into change signals.
func (s *Serf) run(events <-chan serf.Event) {
	defer close(s.done)
	for {
		select {
		case e := <-events:
			if _, ok := e.(serf.MemberEvent); ok {
				notify(s.changes)
			}
		case <-s.serf.ShutdownCh():
			return
		}
	}
}

func (s *Serf) Self() Member { return fromSerf(s.serf.LocalMember()) }

func (s *Serf) Members() []Member {
	sm := s.serf.Members()
	out := make([]Member, len(sm))
	for i, m := range sm {
		out[i] = fromSerf(m)
	}
	sortByName(out)
	return out
}

func (s *Serf) Alive() []Member { return onlyAlive(s.Members()) }

func (s *Serf) Changes() <-chan struct{} { return s.changes }

// Leave broadcasts a graceful leave, then shuts the agent down. Idempotent.
func (s *Serf) Leave() error {
	s.leaveOnce.Do(func() {
		var err error
		if s.serf.State() != serf.SerfShutdown {
			err = s.serf.Leave()
		}
		s.leaveErr = errors.Join(err, s.Shutdown())
	})
	return s.leaveErr
}

// Shutdown stops the agent without leaving: others will see this node
// as Failed, as after a crash. Prefer Leave.
func (s *Serf) Shutdown() error {
	err := s.serf.Shutdown()
	<-s.done
	return err
}

func fromSerf(m serf.Member) Member {
	cores, _ := strconv.Atoi(m.Tags[tagCores])
	mem, _ := strconv.ParseInt(m.Tags[tagMem], 10, 64)
	return Member{
		Name:        m.Name,
		Addr:        m.Tags[tagFlight],
		Gossip:      net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))),
		Cores:       cores,
		MemoryBytes: mem,
		State:       fromStatus(m.Status),
	}
}

func fromStatus(s serf.MemberStatus) State {
	switch s {
	case serf.StatusAlive:
		return Alive
	case serf.StatusLeaving:
		return Leaving
	case serf.StatusLeft:
		return Left
	default: // StatusFailed, and StatusNone which must not count as alive
		return Failed
	}
}

// nodeName derives a stable name so a restarted node reclaims its identity.
func nodeName(cfg Config, gossipPort int) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	hostname, _ := os.Hostname()
	if u, err := url.Parse(cfg.Addr); err == nil && u.Host != "" {
		// An unspecified host would collide across machines.
		if h, p, err := net.SplitHostPort(u.Host); err == nil && (h == "" || net.ParseIP(h).IsUnspecified()) {
			return net.JoinHostPort(hostname, p)
		}
		return u.Host
	}
	return net.JoinHostPort(hostname, strconv.Itoa(gossipPort))
}

// flatten turns Serf's multi-line multierror into one line, keeping the causes.
func flatten(err error) error {
	me, ok := err.(interface{ WrappedErrors() []error })
	if !ok || len(me.WrappedErrors()) == 0 {
		return err
	}
	return causes(me.WrappedErrors())
}

type causes []error

func (c causes) Error() string {
	s := make([]string, len(c))
	for i, e := range c {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (c causes) Unwrap() []error { return c }

func parseKey(s string) ([]byte, error) {
	const want = "want base64 (standard encoding) of a 16, 24 or 32-byte key, e.g. from `openssl rand -base64 32`"
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cluster: bad encrypt key: %s: %w", want, err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("cluster: bad encrypt key: decodes to %d bytes; %s", len(key), want)
}

// freePort finds a port free for both TCP and UDP on host: memberlist binds both.
func freePort(host string) (int, error) {
	var lastErr error
	for range 20 {
		tl, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, fmt.Errorf("cluster: finding a free gossip port on %s: %w", host, err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		tl.Close()
		if err == nil {
			ul.Close()
			return port, nil
		}
		lastErr = err
	}
	return 0, fmt.Errorf("cluster: no port free for both TCP and UDP on %s: %w", host, lastErr)
}

// stdLogger adapts slog for Serf and memberlist, which take a *log.Logger.
func stdLogger(l *slog.Logger) *log.Logger {
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}
