package flight

import (
	"context"
	"embed"
	"encoding/json"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"slipstream/kernels"
)

// The HTTP side of a node: the dashboard (static pages that poll the JSON
// API below), the JSON API, and /metrics. Everything is read-only.
//
//	GET /                    the dashboard (one page; #cluster, #queries, #query/ID, #tables, #config)
//	GET /static/...          its script and style sheet, embedded in the binary
//	GET /api/node            this node: name, version, memory in use and limit
//	GET /api/cluster         the members, their state, cores, memory used/limit, partitions held
//	GET /api/queries         the queries this node coordinates, running and recent, newest first
//	GET /api/queries/{id}    one query: its stages, progress, plan and task receipts
//	GET /api/tables          the tables, their columns, sizes and partition placement
//	GET /api/config          this node's configuration, as --print-config prints it
//	GET /metrics             Prometheus text format (when the node has metrics)

//go:embed dashboard
var dashboardFiles embed.FS

// HTTPHandler is a node's HTTP side; metrics (nil: none) serves /metrics.
// The handler goes through GuardHTTP with the node's auth (nil: none).
func (s *Service) HTTPHandler(metrics *Metrics, auth *Auth) http.Handler {
	static, _ := fs.Sub(dashboardFiles, "dashboard")
	mux := http.NewServeMux()
	files := http.FileServer(http.FS(static))
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.HandleFunc("GET /api/node", s.apiJSON(func(context.Context, *http.Request) (any, error) { return s.nodeInfo(), nil }))
	mux.HandleFunc("GET /api/cluster", s.apiJSON(s.apiCluster))
	mux.HandleFunc("GET /api/queries", s.apiJSON(func(context.Context, *http.Request) (any, error) {
		return map[string]any{"queries": s.engine.Queries()}, nil
	}))
	mux.HandleFunc("GET /api/queries/{id}", s.apiJSON(func(ctx context.Context, r *http.Request) (any, error) {
		raw, err := s.engine.QueryStatus(ctx, r.PathValue("id"))
		return json.RawMessage(raw), err
	}))
	mux.HandleFunc("GET /api/tables", s.apiJSON(s.apiTables))
	mux.HandleFunc("GET /api/config", s.apiJSON(func(context.Context, *http.Request) (any, error) {
		return map[string]any{"node": s.engine.Self.Name, "text": s.engine.Config.String()}, nil
	}))
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint "+r.URL.Path+": see /api/node, /api/cluster, /api/queries, /api/queries/{id}, /api/tables, /api/config")
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics.Handler())
	}
	return GuardHTTP(mux, auth)
}

// tokenCookie carries a browser's token after it opened the dashboard's
// address with ?token=.
const tokenCookie = "slipstream_token"

// GuardHTTP wraps every HTTP request of the node: the one place for what
// the Flight port's interceptors do on gRPC. With auth, a request needs a
// reader's token, as a Flight call does: `Authorization: Bearer` (a
// Prometheus scraper's), or the cookie a browser gets by opening the
// address with ?token= once (it is then sent back to the address without
// it, so the token does not stay in the address bar or the history).
// Every answer carries headers that keep the browser from running anything
// the pages did not ship: no inline script, no framing, no sniffing.
func GuardHTTP(next http.Handler, auth *Auth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if auth != nil {
			if tok := r.URL.Query().Get("token"); tok != "" {
				if _, err := auth.Check("Bearer "+tok, Reader, "the dashboard"); err != nil {
					httpAuthError(w, err)
					return
				}
				http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
				clean := *r.URL
				q := clean.Query()
				q.Del("token")
				clean.RawQuery = q.Encode()
				http.Redirect(w, r, clean.RequestURI(), http.StatusSeeOther)
				return
			}
			authz := r.Header.Get("Authorization")
			if c, err := r.Cookie(tokenCookie); authz == "" && err == nil {
				authz = "Bearer " + c.Value
			}
			if _, err := auth.Check(authz, Reader, "the dashboard"); err != nil {
				httpAuthError(w, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// httpAuthError answers a refused request: 401 without valid credentials,
// 403 with a role too low; the message names what to send, never the token.
func httpAuthError(w http.ResponseWriter, err error) {
	code := http.StatusUnauthorized
	if status.Code(err) == codes.PermissionDenied {
		code = http.StatusForbidden
	}
	msg := status.Convert(err).Message()
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="slipstream"`)
		msg += "; a browser opens the dashboard's address with ?token=<token> once"
	}
	http.Error(w, msg, code)
}

// apiJSON serves what fn answers as JSON; an error is answered with the
// status its kind maps to and {"error": message}.
func (s *Service) apiJSON(fn func(context.Context, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r.Context(), r)
		if err != nil {
			code := http.StatusInternalServerError
			switch kernels.KindOf(err) {
			case kernels.NotFound:
				code = http.StatusNotFound
			case kernels.Invalid:
				code = http.StatusBadRequest
			case kernels.Unavailable:
				code = http.StatusServiceUnavailable
			}
			writeJSONError(w, code, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := json.NewEncoder(w).Encode(v); err != nil {
			slog.Debug("http: writing an answer", "path", r.URL.Path, "err", err)
		}
	}
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// nodeInfo is what this node says of itself: /api/node and the health
// action (which other nodes' dashboards read for its memory).
func (s *Service) nodeInfo() map[string]any {
	out := map[string]any{"status": "ok", "version": Version, "name": s.engine.Self.Name,
		"tables": len(s.engine.Catalog.Tables())}
	if s.dashboard != "" {
		out["dashboard"] = s.dashboard
	}
	if p := s.engine.Memory; p != nil {
		st := p.Stats()
		out["memory_used"], out["memory_limit"], out["spill_on_disk"] = st.Used, st.Limit, st.Spilled
	}
	return out
}

// SetDashboard records the URL of this node's dashboard (health reports
// it: the Python client's dashboard_url).
func (s *Service) SetDashboard(u string) { s.dashboard = u }

// DashboardURL is the address to give users for a dashboard listening on
// addr: an unspecified host (0.0.0.0, ::) is replaced by the host of the
// node's advertised Flight URI.
func DashboardURL(addr net.Addr, advertise string) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if u, err := url.Parse(advertise); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// apiCluster is the cluster status with each alive member's memory in
// use, asked of it (1 s at most; a member that does not answer shows
// none).
func (s *Service) apiCluster(ctx context.Context, _ *http.Request) (any, error) {
	st := s.engine.ClusterStatus()
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	members, _ := out["members"].([]any)
	peers, _ := s.engine.Net.(*Peers)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range members {
		m, ok := m.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		if name == s.engine.Self.Name {
			mergeInfo(m, s.nodeInfo())
			m["self"] = true
			continue
		}
		addr, _ := m["address"].(string)
		if peers == nil || m["state"] != "alive" || addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := peers.rawAction(ctx, addr, actHealth, nil)
			var info map[string]any
			if err == nil && json.Unmarshal(body, &info) == nil {
				mergeInfo(m, info)
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// mergeInfo copies info's memory figures and dashboard into member m.
func mergeInfo(m, info map[string]any) {
	for _, k := range []string{"memory_used", "memory_limit", "spill_on_disk", "dashboard", "version"} {
		if v, ok := info[k]; ok {
			m[k] = v
		}
	}
}

// tableView is one table on the dashboard.
type tableView struct {
	Name    string       `json:"name"`
	Rows    int64        `json:"rows"`
	Version int64        `json:"version"`
	Columns []columnView `json:"columns"`
	// Bytes is the size of one copy of every partition (-1: unknown, a
	// table stored before sizes were kept and not all held here);
	// BytesHere sums the copies this node holds.
	Bytes     int64      `json:"bytes"`
	BytesHere int64      `json:"bytes_here"`
	Parts     []partView `json:"partitions"`
	// UnderReplicated counts the partitions with fewer copies on alive
	// nodes than the replication asks for.
	UnderReplicated int `json:"under_replicated"`
}

type columnView struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

type partView struct {
	ID              string   `json:"id"`
	UnderReplicated bool     `json:"under_replicated"`
	Rows            int64    `json:"rows"`
	Holders         []string `json:"holders"`
	// Bytes is the size of a copy (-1: unknown); Here says this node
	// holds one.
	Bytes int64 `json:"bytes"`
	Here  bool  `json:"here"`
}

func (s *Service) apiTables(context.Context, *http.Request) (any, error) {
	out := []tableView{}
	under := map[string]bool{}
	for _, u := range s.engine.UnderReplicatedParts() {
		under[u.ID] = true
	}
	for _, t := range s.engine.Catalog.Tables() {
		v := tableView{Name: t.Name, Rows: t.Rows, Version: t.M.Version, Columns: []columnView{}, Parts: []partView{}}
		for _, f := range t.Schema.Fields() {
			v.Columns = append(v.Columns, columnView{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable})
		}
		for _, p := range t.M.Parts {
			pv := partView{ID: p.ID, Rows: p.Rows, Holders: p.Holders, Bytes: -1, UnderReplicated: under[p.ID]}
			if pv.UnderReplicated {
				v.UnderReplicated++
			}
			if pv.Holders == nil {
				pv.Holders = []string{}
			}
			if p.Bytes > 0 {
				pv.Bytes = p.Bytes
			}
			if n, ok := s.engine.Catalog.PartBytes(p.ID); ok {
				pv.Bytes, pv.Here = n, true
				v.BytesHere += n
			}
			if pv.Bytes < 0 || v.Bytes < 0 {
				v.Bytes = -1
			} else {
				v.Bytes += pv.Bytes
			}
			v.Parts = append(v.Parts, pv)
		}
		out = append(out, v)
	}
	return map[string]any{"tables": out, "node": s.engine.Self.Name}, nil
}
