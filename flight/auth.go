package flight

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	flightpb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"slipstream/scheduler"
	"slipstream/scheduler/planpb"
)

// Authentication and roles. With auth configured (serve --auth, or a node
// token alone) every call but Handshake needs `authorization: Bearer
// <token>`; Handshake takes Basic credentials (user = the token's name,
// password = the token) and answers with the bearer to use, the token
// itself: a bearer must be good on every node, since a client reads result
// partitions from the nodes holding them. A node calling another presents
// its node certificate (TLS on) or the node token (an admin token).

// Role is what a caller may do; each role may do what the ones below it may.
type Role int

const (
	// Anyone may call: Handshake checks its own Basic credentials.
	Anyone Role = iota
	// Reader runs queries and reads status and lists.
	Reader
	// Writer uploads, appends and drops tables.
	Writer
	// Admin runs the cluster: node-to-node work and token management.
	Admin
	// byAction marks DoAction, whose role is its action's.
	byAction Role = -1
)

var roleNames = map[Role]string{Anyone: "anyone", Reader: "reader", Writer: "writer", Admin: "admin"}

func (r Role) String() string { return roleNames[r] }

// ParseRole reads "reader", "writer" or "admin".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if r != Anyone && n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q: want reader, writer or admin", s)
}

// The role table: every Flight method and every action, and the least
// role that may call it. An action not listed is refused to everyone.
var (
	methodRoles = map[string]Role{
		"Handshake":      Anyone,
		"ListFlights":    Reader,
		"GetFlightInfo":  Reader,
		"PollFlightInfo": Reader,
		"GetSchema":      Reader,
		"DoGet":          Reader, // a shuffle ticket (node to node): shuffleRole
		"ListActions":    Reader,
		"DoPut":          Writer, // binding a Flight SQL query's parameters: Reader

		"DoExchange": Writer,
		"DoAction":   byAction,
	}
	actionRoles = map[string]Role{
		actHealth:                              Reader,
		"list_tables":                          Reader,
		"list_functions":                       Reader,
		"explain":                              Reader,
		"explain_analyze":                      Reader,
		"cluster":                              Reader,
		"query_status":                         Reader,
		"queries":                              Reader,
		"cancel_query":                         Reader,
		arrowflight.CancelFlightInfoActionType: Reader,
		"drop_table":                           Writer,
		// Flight SQL (flightsql.go): the statements that change tables check
		// Writer themselves.
		flightsql.CreatePreparedStatementActionType:     Reader,
		flightsql.ClosePreparedStatementActionType:      Reader,
		flightsql.CancelQueryActionType:                 Reader,
		flightsql.BeginTransactionActionType:            Reader,
		flightsql.EndTransactionActionType:              Reader,
		flightsql.BeginSavepointActionType:              Reader,
		flightsql.EndSavepointActionType:                Reader,
		flightsql.CreatePreparedSubstraitPlanActionType: Reader,
		"execute_sql":  Writer,
		"write":        Writer,
		actTaskMemory:  Admin,
		actRunTask:     Admin,
		actRelease:     Admin,
		actCatalog:     Admin,
		actCommit:      Admin,
		actAbort:       Admin,
		actStorePart:   Admin,
		actFetchPart:   Admin,
		actCopyPart:    Admin,
		actStoreOutput: Admin,
		actWriteOutput: Admin,
	}
	shuffleRole = Admin
)

// NodeUnit is the organizational unit of a node certificate: a caller
// whose verified client certificate carries it is a node (role admin).
const NodeUnit = "slipstream-node"

// Identity is who made a call.
type Identity struct {
	// Name is the token's name, or "node:<common name>" for a node
	// certificate.
	Name string
	Role Role
}

// Auth checks tokens against a tokens file, re-read when it changes.
type Auth struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamp   fileStamp
	byHash  map[string]TokenEntry
}

// reloadEvery is how often the tokens file is looked at: a revoked token
// is refused within it.
const reloadEvery = time.Second

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// NewAuth checks callers against the tokens file at path. nodeToken, when
// given, is the token this node presents to others: it must be an admin
// token of the file; without a file it is the one token accepted (the way
// sl.connect() starts a node).
func NewAuth(path, nodeToken string) (*Auth, error) {
	a := &Auth{path: path, now: time.Now}
	if path == "" {
		if nodeToken == "" {
			return nil, fmt.Errorf("no tokens: give --auth FILE or a node token")
		}
		a.byHash = map[string]TokenEntry{HashToken(nodeToken): {Name: "node", Role: "admin", Hash: HashToken(nodeToken)}}
		return a, nil
	}
	if err := a.reload(); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o022 != 0 {
		slog.Warn("the tokens file is writable by other users, who could add tokens of their own; chmod 600 it", "path", path, "mode", st.Mode().Perm().String())
	}
	if nodeToken != "" {
		id, err := a.identify(nodeToken)
		if err != nil {
			return nil, fmt.Errorf("the node token: %s", status.Convert(err).Message())
		}
		if id.Role != Admin {
			return nil, fmt.Errorf("the node token %q has role %s; a node token needs admin", id.Name, id.Role)
		}
	}
	return a, nil
}

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	s := fileStamp{mod: st.ModTime(), size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.ino = sys.Ino
	}
	return s, nil
}

// reload reads the tokens file if it changed since it was last read.
func (a *Auth) reload() error {
	stamp, err := stampOf(a.path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("--auth: %w", err)
	}
	if a.byHash != nil && stamp == a.stamp {
		return nil
	}
	f, err := ReadTokens(a.path)
	if err != nil {
		return fmt.Errorf("--auth: %w", err)
	}
	byHash := make(map[string]TokenEntry, len(f.Tokens))
	for _, e := range f.Tokens {
		byHash[e.Hash] = e
	}
	if a.byHash != nil {
		slog.Info("tokens file re-read", "path", a.path, "tokens", len(byHash))
	}
	a.byHash, a.stamp = byHash, stamp
	return nil
}

func (a *Auth) entries() map[string]TokenEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.path != "" && a.now().Sub(a.checked) >= reloadEvery {
		a.checked = a.now()
		if err := a.reload(); err != nil {
			// Keep the tokens read last; say why the change was not taken.
			slog.Warn("tokens file not re-read; the tokens read before stay in force", "err", err)
		}
	}
	return a.byHash
}

func unauthenticated(format string, args ...any) error {
	return status.Errorf(codes.Unauthenticated, format, args...)
}

// identify checks a token; the error never repeats the token.
func (a *Auth) identify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, unauthenticated("empty token")
	}
	e, ok := a.entries()[HashToken(token)]
	if !ok {
		return Identity{}, unauthenticated("the token is not known to this node (wrong, or not in its --auth file)")
	}
	if !e.Revoked.IsZero() {
		return Identity{}, unauthenticated("token %q was revoked at %s", e.Name, e.Revoked.Format(time.RFC3339))
	}
	if !e.Expires.IsZero() && !a.now().Before(e.Expires) {
		return Identity{}, unauthenticated("token %q expired at %s; make a new one with slipstream token create", e.Name, e.Expires.Format(time.RFC3339))
	}
	role, _ := ParseRole(e.Role)
	return Identity{Name: e.Name, Role: role}, nil
}

// Validate checks Basic credentials on Handshake (arrowflight's
// BasicAuthValidator): the user is the token's name, the password the
// token; the bearer returned is the token itself.
func (a *Auth) Validate(username, password string) (string, error) {
	id, err := a.identify(password)
	if err != nil {
		return "", err
	}
	if id.Name != username {
		return "", unauthenticated("wrong user name or token")
	}
	return password, nil
}

// IsValid checks a bearer token (arrowflight's BasicAuthValidator).
func (a *Auth) IsValid(bearer string) (any, error) {
	return a.identify(bearer)
}

// Check authenticates an HTTP-style authorization header ("Bearer
// <token>") and checks its role is at least need: one check for every
// port of a node (the dashboard's too). With a nil Auth (no auth
// configured) everyone is admin. Its errors are Unauthenticated or
// PermissionDenied gRPC statuses (HTTP 401 and 403).
func (a *Auth) Check(authorization string, need Role, what string) (Identity, error) {
	if a == nil {
		return Identity{Name: "anyone", Role: Admin}, nil
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return Identity{}, noCredentials()
	}
	id, err := a.identify(strings.TrimSpace(token))
	if err != nil {
		return id, err
	}
	return id, permit(id, need, what)
}

func noCredentials() error {
	return unauthenticated("no token: send the header `authorization: Bearer <token>` (slipstream token create makes one), or Basic credentials (token name, token) on Handshake")
}

func permit(id Identity, need Role, what string) error {
	if id.Role >= need {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "%s needs role %s; token %q has role %s", what, need, id.Name, id.Role)
}

// nodeIdentity is the identity of a caller that presented a client
// certificate the TLS handshake verified against the cluster CA and whose
// organizational unit says it is a node.
func nodeIdentity(ctx context.Context) (Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Identity{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return Identity{}, false
	}
	leaf := info.State.VerifiedChains[0][0]
	if !isNodeCert(leaf) {
		return Identity{}, false
	}
	return Identity{Name: "node:" + leaf.Subject.CommonName, Role: Admin}, true
}

func isNodeCert(c *x509.Certificate) bool {
	return slices.Contains(c.Subject.OrganizationalUnit, NodeUnit)
}

type identityKey struct{}

// identityFrom is the caller's identity set by the interceptors.
func identityFrom(ctx context.Context) (Identity, bool) {
	if id, ok := ctx.Value(identityKey{}).(Identity); ok {
		return id, true
	}
	id, ok := arrowflight.AuthFromContext(ctx).(Identity)
	return id, ok
}

// bearerOf is the token of a call's `authorization: Bearer` header.
func bearerOf(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), true
		}
	}
	return "", false
}

func hasAuthorization(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get("authorization")) > 0
}

// ServerOptions are the interceptors that authenticate every call and
// check its role; they go after ServerOptions' guard.
func (a *Auth) ServerOptions() []grpc.ServerOption {
	basic := arrowflight.CreateServerBasicAuthMiddleware(a)
	bearerUnary, bearerStream := basic.Unary, basic.Stream
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		need, err := methodRole(info.FullMethod)
		if err != nil {
			return nil, err
		}
		check := func(ctx context.Context, req any) (any, error) {
			id, _ := identityFrom(ctx)
			if err := permit(id, need, methodName(info.FullMethod)); err != nil {
				return nil, err
			}
			return handler(scheduler.WithUser(ctx, id.Name), req)
		}
		if id, ok := nodeIdentity(ctx); ok {
			return check(context.WithValue(ctx, identityKey{}, id), req)
		}
		if !hasAuthorization(ctx) {
			return nil, noCredentials()
		}
		return bearerUnary(ctx, req, info, check)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		need, err := methodRole(info.FullMethod)
		if err != nil {
			return err
		}
		check := func(srv any, ss grpc.ServerStream) error {
			id, _ := identityFrom(ss.Context())
			ss = &identStream{ServerStream: ss, ctx: scheduler.WithUser(ss.Context(), id.Name)}
			switch {
			case need == Anyone: // Handshake: the bearer interceptor checked it
			case need == byAction || methodName(info.FullMethod) == "DoGet" || methodName(info.FullMethod) == "DoPut":
				// The role depends on the request: checked once it is read.
				ss = &checkedStream{ServerStream: ss, id: id}
			default:
				if err := permit(id, need, methodName(info.FullMethod)); err != nil {
					return err
				}
			}
			return handler(srv, ss)
		}
		if id, ok := nodeIdentity(ss.Context()); ok && need != Anyone {
			return check(srv, &identStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), identityKey{}, id)})
		}
		if tok, ok := bearerOf(ss.Context()); ok && need == Anyone {
			// A Handshake that presents the bearer it will use (the Flight
			// SQL JDBC driver's token=): checked, and answered with itself.
			if _, err := a.identify(tok); err != nil {
				return err
			}
			ss.SetTrailer(metadata.Pairs("authorization", "Bearer "+tok))
			return handler(srv, ss)
		}
		if !hasAuthorization(ss.Context()) {
			return noCredentials()
		}
		return bearerStream(srv, ss, info, check)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}

func methodName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

// methodRole is the role a method needs; a method missing from the table
// is refused.
func methodRole(full string) (Role, error) {
	r, ok := methodRoles[methodName(full)]
	if !ok || !strings.HasPrefix(full, "/arrow.flight.protocol.FlightService/") {
		return 0, status.Errorf(codes.PermissionDenied, "%s has no role in this node's role table; no one may call it", full)
	}
	return r, nil
}

// requestRole is the role a DoAction or DoGet request needs.
func requestRole(m any) (Role, string, error) {
	switch m := m.(type) {
	case *arrowflight.Action:
		r, ok := actionRoles[m.GetType()]
		if !ok {
			return 0, "", status.Errorf(codes.PermissionDenied, "action %q has no role in this node's role table; no one may call it (ListActions lists the actions)", m.GetType())
		}
		return r, "action " + m.GetType(), nil
	case *arrowflight.FlightData:
		if isFlightSQL(m.GetFlightDescriptor().GetCmd()) {
			var a anypb.Any
			if proto.Unmarshal(m.GetFlightDescriptor().GetCmd(), &a) == nil && a.MessageIs(&flightpb.CommandPreparedStatementQuery{}) {
				return Reader, "binding the parameters of a Flight SQL query", nil
			}
		}
		return Writer, "DoPut", nil
	case *arrowflight.Ticket:
		var tk planpb.Ticket
		if proto.Unmarshal(m.GetTicket(), &tk) == nil && tk.GetShuffle() {
			return shuffleRole, "DoGet of a shuffle ticket (node to node)", nil
		}
		return Reader, "DoGet", nil
	}
	return Admin, "this call", nil
}

// checkedStream checks the role of the first request it reads.
type checkedStream struct {
	grpc.ServerStream
	id      Identity
	checked bool
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.checked {
		return nil
	}
	s.checked = true
	need, what, err := requestRole(m)
	if err != nil {
		return err
	}
	return permit(s.id, need, what)
}

type identStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identStream) Context() context.Context { return s.ctx }
