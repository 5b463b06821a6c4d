package flight

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	genflight "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "slipstream/scheduler/planpb"
)

// Every Flight method and every action ListActions lists has a role.
func TestRoleTableCoversEverything(t *testing.T) {
	desc := genflight.FlightService_ServiceDesc
	for _, m := range desc.Methods {
		if _, ok := methodRoles[m.MethodName]; !ok {
			t.Errorf("method %s has no role", m.MethodName)
		}
	}
	for _, m := range desc.Streams {
		if _, ok := methodRoles[m.StreamName]; !ok {
			t.Errorf("method %s has no role", m.StreamName)
		}
	}
	if n := len(desc.Methods) + len(desc.Streams); n != len(methodRoles) {
		t.Errorf("the table has %d methods, the service %d", len(methodRoles), n)
	}
	n := startNode(t)
	stream, err := n.client.ListActions(context.Background(), &arrowflight.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for {
		a, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		listed++
		if _, ok := actionRoles[a.GetType()]; !ok {
			t.Errorf("action %s (listed by ListActions) has no role", a.GetType())
		}
	}
	if listed != len(actionRoles) {
		t.Errorf("ListActions lists %d actions, the role table has %d", listed, len(actionRoles))
	}
}

type authed struct {
	*testNode
	file string
	tok  map[string]string // name -> token
}

func startAuthed(t *testing.T) *authed {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tokens.toml")
	a := &authed{file: file, tok: map[string]string{}}
	for _, c := range []struct {
		name string
		role Role
		life time.Duration
	}{{"reader", Reader, 0}, {"writer", Writer, 0}, {"admin", Admin, time.Hour}, {"old", Admin, time.Hour}} {
		tok, err := CreateToken(file, c.name, c.role, c.life, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		a.tok[c.name] = tok
	}
	// "old" expired an hour ago: made with a clock two hours back.
	f, _ := ReadTokens(file)
	f.Tokens[3].Expires = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := WriteTokens(file, f); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuth(file, "")
	if err != nil {
		t.Fatal(err)
	}
	a.testNode = startNodeWith(t, 0, auth.ServerOptions()...)
	return a
}

func bearerCtx(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func action(ctx context.Context, c arrowflight.Client, kind string, body []byte) error {
	s, err := c.DoAction(ctx, &arrowflight.Action{Type: kind, Body: body})
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func wantCode(t *testing.T, what string, err error, code codes.Code, text string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code || !strings.Contains(st.Message(), text) {
		t.Errorf("%s: got %v, want %s containing %q", what, err, code, text)
	}
}

func TestAuthRefusesAndAdmits(t *testing.T) {
	n := startAuthed(t)
	ctx := context.Background()
	c := n.client

	wantCode(t, "no token", action(ctx, c, "health", nil), codes.Unauthenticated, "no token")
	wantCode(t, "wrong token", action(bearerCtx("sst_nope"), c, "health", nil), codes.Unauthenticated, "not known")
	wantCode(t, "expired", action(bearerCtx(n.tok["old"]), c, "health", nil), codes.Unauthenticated, `token "old" expired`)
	_, err := c.GetSchema(ctx, &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorPATH, Path: []string{"t"}})
	wantCode(t, "unary, no token", err, codes.Unauthenticated, "no token")

	// A reader reads but may not drop, nor do node-to-node work.
	if err := action(bearerCtx(n.tok["reader"]), c, "list_tables", nil); err != nil {
		t.Fatalf("reader list_tables: %v", err)
	}
	wantCode(t, "reader drops", action(bearerCtx(n.tok["reader"]), c, "drop_table", []byte(`{"name":"t"}`)), codes.PermissionDenied, "action drop_table needs role writer; token \"reader\" has role reader")
	wantCode(t, "writer runs a task", action(bearerCtx(n.tok["writer"]), c, actRunTask, nil), codes.PermissionDenied, "needs role admin")
	wantCode(t, "unknown action", action(bearerCtx(n.tok["admin"]), c, "format_disk", nil), codes.PermissionDenied, "no role")
	tk, _ := proto.Marshal(&pb.Ticket{Output: &pb.OutputKey{QueryId: "q"}, Shuffle: true})
	s, err := c.DoGet(bearerCtx(n.tok["reader"]), &arrowflight.Ticket{Ticket: tk})
	if err == nil {
		_, err = s.Recv()
	}
	wantCode(t, "reader reads a shuffle", err, codes.PermissionDenied, "shuffle")
	// DoPut's role depends on its first message (a Flight SQL query's
	// parameters need only a reader): an upload needs a writer.
	wantCode(t, "reader uploads", putCtx(bearerCtx(n.tok["reader"]), c, "t", ints(3)), codes.PermissionDenied, "DoPut needs role writer")

	// A writer uploads; Basic on Handshake answers with a bearer that works.
	wctx, err := c.AuthenticateBasicToken(ctx, "writer", n.tok["writer"])
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if err := putCtx(wctx, c, "t", ints(3)); err != nil {
		t.Fatalf("writer upload: %v", err)
	}
	if _, err := c.AuthenticateBasicToken(ctx, "reader", n.tok["writer"]); status.Code(err) != codes.Unauthenticated {
		t.Errorf("handshake with another token's name: %v", err)
	}
	if _, err := c.AuthenticateBasicToken(ctx, "writer", "sst_wrong"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("handshake with a wrong token: %v", err)
	}

	// Revoked while the node runs: refused within the reload period.
	if err := RevokeToken(n.file, "reader", time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := action(bearerCtx(n.tok["reader"]), c, "health", nil)
		if status.Code(err) == codes.Unauthenticated {
			wantCode(t, "revoked", err, codes.Unauthenticated, `token "reader" was revoked`)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a revoked token still works: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := action(bearerCtx(n.tok["writer"]), c, "health", nil); err != nil {
		t.Fatalf("the node stopped serving others: %v", err)
	}
}

// No error names the token it refused.
func TestAuthErrorsHideTokens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.toml")
	tok, err := CreateToken(file, "a", Reader, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), tok) || strings.Contains(string(raw), tok[4:]) {
		t.Fatal("the tokens file holds the token")
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode %v, want 0600", st.Mode().Perm())
	}
	auth, err := NewAuth(file, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bearer " + tok + "x", "Basic " + base64.StdEncoding.EncodeToString([]byte("a:"+tok)), "Bearer " + tok} {
		_, err := auth.Check(h, Admin, "drop everything")
		if err == nil {
			t.Fatalf("%q passed", h)
		}
		if strings.Contains(err.Error(), tok[4:10]) {
			t.Errorf("error repeats the token: %v", err)
		}
	}
	if _, err := auth.Check("Bearer "+tok, Reader, "dashboard"); err != nil {
		t.Errorf("reader on the dashboard: %v", err)
	}
	// A node token must be an admin token of the file.
	if _, err := NewAuth(file, tok); err == nil || !strings.Contains(err.Error(), "needs admin") {
		t.Errorf("a reader node token: %v", err)
	}
}

func putCtx(ctx context.Context, c arrowflight.Client, table string, rec arrow.RecordBatch) error {
	defer rec.Release()
	stream, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	w := arrowflight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(&arrowflight.FlightDescriptor{Type: arrowflight.DescriptorPATH, Path: []string{table}})
	if err := w.Write(rec); err != nil && !errors.Is(err, io.EOF) {
		return err
	} // io.EOF: the server ended the call early (a refused upload); Recv has its status
	w.Close()
	stream.CloseSend()
	_, err = stream.Recv()
	return err
}

// The HTTP side asks for the same tokens as the Flight port: none or a
// wrong one gets 401 naming what to send, a reader's token (as a header, or
// as the cookie a browser gets from ?token=) is let in.
func TestDashboardNeedsAToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.toml")
	tok, err := CreateToken(file, "reader", Reader, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuth(file, "")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "in") })
	web := httptest.NewServer(GuardHTTP(ok, auth))
	defer web.Close()
	get := func(path, header string, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest("GET", web.URL+path, nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, h := range []string{"", "Bearer wrong", "Basic abc"} {
		res := get("/api/node", h)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "?token=") || strings.Contains(string(body), tok) {
			t.Errorf("%q: %d %q, want 401 saying how to send a token", h, res.StatusCode, body)
		}
	}
	if res := get("/api/node", "Bearer "+tok); res.StatusCode != http.StatusOK {
		t.Errorf("a reader's bearer token: %d", res.StatusCode)
	}
	res := get("/?token="+tok, "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("?token=: %d to %q, want a redirect to the address without it", res.StatusCode, res.Header.Get("Location"))
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("cookies %v, want one HttpOnly cookie", cookies)
	}
	if res := get("/api/tables", "", cookies...); res.StatusCode != http.StatusOK {
		t.Errorf("with the cookie: %d", res.StatusCode)
	}
	if res := get("/?token=wrong", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("?token=wrong: %d", res.StatusCode)
	}
}
