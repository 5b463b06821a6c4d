package flight

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
	"slipstream/scheduler/sql"
)

// Flight SQL on the node's own port. A descriptor's cmd or a ticket that
// holds a message of the Flight SQL protocol (told apart by the type URL
// of its Any) goes to this adapter through arrow-go's flightsql routing;
// everything else to the native handlers. Queries run as native queries
// do: GetFlightInfo answers with native tickets, on a cluster one
// endpoint per result partition at the node that holds it, so that the
// rows never funnel through the node that was asked. Statements that
// change tables run through Engine.ExecSQL, uploads through Engine.Store.
//
// Tables have no catalog and one unnamed schema (""): SQL names a table
// by its name alone.

const sqlTypePrefix = "type.googleapis.com/arrow.flight.protocol.sql."

// isFlightSQL says whether a descriptor's cmd or a ticket holds a Flight
// SQL message.
func isFlightSQL(b []byte) bool {
	var a anypb.Any
	return len(b) > 0 && proto.Unmarshal(b, &a) == nil && strings.HasPrefix(a.GetTypeUrl(), sqlTypePrefix)
}

// sqlActions are the Flight SQL actions; the adapter takes them.
var sqlActions = []*arrowflight.ActionType{
	{Type: flightsql.CreatePreparedStatementActionType, Description: "Flight SQL: prepare a statement; its result and parameter schemas"},
	{Type: flightsql.ClosePreparedStatementActionType, Description: "Flight SQL: forget a prepared statement"},
	{Type: flightsql.CancelQueryActionType, Description: "Flight SQL (deprecated): cancel a query, as CancelFlightInfo"},
	{Type: flightsql.BeginTransactionActionType, Description: "Flight SQL: transactions are not supported (refused)"},
	{Type: flightsql.EndTransactionActionType, Description: "Flight SQL: transactions are not supported (refused)"},
	{Type: flightsql.BeginSavepointActionType, Description: "Flight SQL: savepoints are not supported (refused)"},
	{Type: flightsql.EndSavepointActionType, Description: "Flight SQL: savepoints are not supported (refused)"},
	{Type: flightsql.CreatePreparedSubstraitPlanActionType, Description: "Flight SQL: Substrait plans are not supported (refused)"},
}

func isSQLAction(t string) bool {
	for _, a := range sqlActions {
		if a.Type == t {
			return true
		}
	}
	return false
}

// countSchema is the result of a statement that changes tables: one row,
// the rows it wrote.
var countSchema = arrow.NewSchema([]arrow.Field{{Name: "count", Type: arrow.PrimitiveTypes.Int64}}, nil)

const (
	// maxPrepared is how many prepared statements a node keeps; past it the
	// least recently used is forgotten.
	maxPrepared = 10000
	// maxParamRows bounds the rows of parameter values bound at once.
	maxParamRows = 100000
	// schemaName is the one database schema tables are in.
	schemaName = ""
	// tableType is the type of every table.
	tableType = "TABLE"
)

// sqlServer implements arrow-go's flightsql.Server over a node.
type sqlServer struct {
	flightsql.BaseServer
	s *Service

	mu       sync.Mutex
	prepared map[string]*preparedStmt
}

type preparedStmt struct {
	*sql.Prepared
	dataset *arrow.Schema // nil for a statement that changes tables
	bound   [][]sql.Value // rows of parameter values
	used    time.Time
}

func newSQLServer(s *Service) *sqlServer {
	a := &sqlServer{s: s, prepared: map[string]*preparedStmt{}}
	a.Alloc = s.mem
	for id, v := range sqlInfo() {
		if err := a.RegisterSqlInfo(id, v); err != nil {
			panic(fmt.Sprintf("SqlInfo %d: %v", id, err))
		}
	}
	return a
}

// routes is arrow-go's Flight SQL routing over the adapter, decoding with
// mem.
func (a *sqlServer) routes(mem memory.Allocator) arrowflight.FlightServer {
	return flightsql.NewFlightServerWithAllocator(a, mem)
}

func sqlQuery(text string) *planpb.Query {
	return &planpb.Query{Root: &planpb.Node{Kind: &planpb.Node_Sql{Sql: &planpb.Sql{Query: text}}}}
}

// require checks that the caller may do what needs role: with auth on,
// the interceptors have set who called.
func require(ctx context.Context, role Role, what string) error {
	if id, ok := identityFrom(ctx); ok {
		return permit(id, role, what)
	}
	return nil
}

// GetFlightInfoStatement runs a query as the native protocol does; a
// statement that changes tables sent as a query (ADBC's DBAPI execute
// sends every statement so) runs at once and answers with its count.
func (a *sqlServer) GetFlightInfoStatement(ctx context.Context, cmd flightsql.StatementQuery, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	text := cmd.GetQuery()
	if !sql.IsQuery(text) {
		n, err := a.update(ctx, text, nil)
		if err != nil {
			return nil, err
		}
		return a.countInfo(n, d)
	}
	return a.s.info(ctx, sqlQuery(text), d)
}

// GetSchemaStatement plans a query and answers with its schema.
func (a *sqlServer) GetSchemaStatement(_ context.Context, cmd flightsql.StatementQuery, _ *arrowflight.FlightDescriptor) (*arrowflight.SchemaResult, error) {
	if !sql.IsQuery(cmd.GetQuery()) {
		return &arrowflight.SchemaResult{Schema: arrowflight.SerializeSchema(countSchema, a.s.mem)}, nil
	}
	n, err := a.s.engine.Plan(sqlQuery(cmd.GetQuery()))
	if err != nil {
		return nil, err
	}
	return &arrowflight.SchemaResult{Schema: arrowflight.SerializeSchema(n.Schema(), a.s.mem)}, nil
}

// update runs a statement that changes tables, once per row of
// parameter values (once with none).
func (a *sqlServer) update(ctx context.Context, text string, rows [][]sql.Value) (int64, error) {
	if err := require(ctx, Writer, "a SQL statement that changes tables"); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return a.s.engine.ExecSQL(ctx, text)
	}
	var total int64
	for i, row := range rows {
		bound, err := sql.BindText(text, row)
		if err != nil {
			return total, err
		}
		n, err := a.s.engine.ExecSQL(ctx, bound)
		if err != nil {
			if len(rows) > 1 {
				err = fmt.Errorf("parameter row %d of %d: %w", i+1, len(rows), err)
			}
			return total, err
		}
		total += n
	}
	return total, nil
}

// countHandle is the statement handle of a count already known.
const countHandle = "count:"

// countInfo answers a statement that changed tables with a ticket for one
// row holding the rows it wrote.
func (a *sqlServer) countInfo(n int64, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	ticket, err := flightsql.CreateStatementQueryTicket([]byte(countHandle + strconv.FormatInt(n, 10)))
	if err != nil {
		return nil, err
	}
	return &arrowflight.FlightInfo{
		Schema:           arrowflight.SerializeSchema(countSchema, a.s.mem),
		FlightDescriptor: d,
		Endpoint:         []*arrowflight.FlightEndpoint{{Ticket: &arrowflight.Ticket{Ticket: ticket}}},
		TotalRecords:     1,
		TotalBytes:       -1,
	}, nil
}

// DoGetStatement serves the tickets countInfo makes (queries are served
// by the native DoGet).
func (a *sqlServer) DoGetStatement(_ context.Context, t flightsql.StatementQueryTicket) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	h := string(t.GetStatementHandle())
	n, err := strconv.ParseInt(strings.TrimPrefix(h, countHandle), 10, 64)
	if !strings.HasPrefix(h, countHandle) || err != nil {
		return nil, nil, invalid("malformed Flight SQL ticket: pass the ticket of a FlightInfo from this node unchanged")
	}
	b := array.NewInt64Builder(a.s.mem)
	defer b.Release()
	b.Append(n)
	return oneBatch(countSchema, b.NewArray())
}

// oneBatch streams one batch of cols.
func oneBatch(schema *arrow.Schema, cols ...arrow.Array) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	rows := int64(0)
	if len(cols) > 0 {
		rows = int64(cols[0].Len())
	}
	rec := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	ch := make(chan arrowflight.StreamChunk, 1)
	ch <- arrowflight.StreamChunk{Data: rec}
	close(ch)
	return schema, ch, nil
}

// metaInfo answers a metadata command with one endpoint whose ticket is
// the command itself, served by DoGet on this node.
func (a *sqlServer) metaInfo(schema *arrow.Schema, d *arrowflight.FlightDescriptor) *arrowflight.FlightInfo {
	return &arrowflight.FlightInfo{
		Schema:           arrowflight.SerializeSchema(schema, a.s.mem),
		FlightDescriptor: d,
		Endpoint:         []*arrowflight.FlightEndpoint{{Ticket: &arrowflight.Ticket{Ticket: d.GetCmd()}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// Prepared statements.

// CreatePreparedStatement parses and types a statement: the schema of its
// rows (for a query), one typed parameter per `?` or `$n`, and whether it
// is an update.
func (a *sqlServer) CreatePreparedStatement(_ context.Context, req flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	var res flightsql.ActionCreatePreparedStatementResult
	p, err := sql.Prepare(req.GetQuery(), a.s.engine)
	if err != nil {
		return res, err
	}
	ps := &preparedStmt{Prepared: p, used: time.Now()}
	if p.Query {
		nulls := make([]sql.Value, p.Params.NumFields())
		for i, f := range p.Params.Fields() {
			nulls[i] = sql.TypedNull(f.Type)
		}
		root, err := sql.CompileBound(p.Text, nulls, a.s.engine)
		if err != nil {
			return res, err
		}
		n, err := a.s.engine.Plan(&planpb.Query{Root: root})
		if err != nil {
			return res, err
		}
		ps.dataset = n.Schema()
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return res, err
	}
	handle := hex.EncodeToString(raw[:])
	a.mu.Lock()
	if len(a.prepared) >= maxPrepared {
		oldest := ""
		for h, x := range a.prepared {
			if oldest == "" || x.used.Before(a.prepared[oldest].used) {
				oldest = h
			}
		}
		delete(a.prepared, oldest)
		slog.Warn("forgot the least recently used prepared statement: too many open", "max", maxPrepared)
	}
	a.prepared[handle] = ps
	a.mu.Unlock()
	update := !p.Query
	res.Handle = []byte(handle)
	res.DatasetSchema = ps.dataset
	res.ParameterSchema = p.Params
	res.IsUpdate = &update
	return res, nil
}

func (a *sqlServer) lookup(handle []byte) (*preparedStmt, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps, ok := a.prepared[string(handle)]
	if !ok {
		return nil, kernels.Errorf(kernels.NotFound, "no prepared statement with this handle on this node: it was closed, or prepared on another node, or the node restarted; prepare it again")
	}
	ps.used = time.Now()
	return ps, nil
}

// ClosePreparedStatement forgets a prepared statement.
func (a *sqlServer) ClosePreparedStatement(_ context.Context, req flightsql.ActionClosePreparedStatementRequest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.prepared, string(req.GetPreparedStatementHandle()))
	return nil
}

// params reads rows of parameter values, one column per parameter.
func params(ps *preparedStmt, r arrowflight.MessageReader) ([][]sql.Value, error) {
	var rows [][]sql.Value
	want := ps.Params.NumFields()
	for r.Next() {
		b := r.RecordBatch()
		if int(b.NumCols()) != want {
			return nil, invalid("the statement has %d parameters; %d parameter values were bound per row", want, b.NumCols())
		}
		if len(rows)+int(b.NumRows()) > maxParamRows {
			return nil, kernels.Errorf(kernels.ResourceExhausted, "more than %d rows of parameter values bound at once; load many rows with bulk ingest (adbc_ingest) instead", maxParamRows)
		}
		for i := 0; i < int(b.NumRows()); i++ {
			row := make([]sql.Value, want)
			for j := range row {
				v, err := sql.ParamValue(b.Column(j), i)
				if err != nil {
					return nil, fmt.Errorf("parameter $%d: %w", j+1, err)
				}
				row[j] = v
			}
			rows = append(rows, row)
		}
	}
	if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, uploadError("cannot read the parameter values", err)
	}
	return rows, nil
}

// DoPutPreparedStatementQuery binds parameter values to a prepared
// statement.
func (a *sqlServer) DoPutPreparedStatementQuery(_ context.Context, cmd flightsql.PreparedStatementQuery, r arrowflight.MessageReader, _ arrowflight.MetadataWriter) ([]byte, error) {
	ps, err := a.lookup(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	rows, err := params(ps, r)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	ps.bound = rows
	a.mu.Unlock()
	return cmd.GetPreparedStatementHandle(), nil
}

// GetFlightInfoPreparedStatement runs a prepared query with the values
// bound last, as a native query; a prepared update runs and answers with
// its count.
func (a *sqlServer) GetFlightInfoPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	ps, err := a.lookup(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	rows := ps.bound
	a.mu.Unlock()
	if !ps.Query {
		n, err := a.update(ctx, ps.Text, rows)
		if err != nil {
			return nil, err
		}
		return a.countInfo(n, d)
	}
	q, err := a.boundQuery(ps, rows)
	if err != nil {
		return nil, err
	}
	return a.s.info(ctx, q, d)
}

func (a *sqlServer) boundQuery(ps *preparedStmt, rows [][]sql.Value) (*planpb.Query, error) {
	n := ps.Params.NumFields()
	switch {
	case n == 0:
		return sqlQuery(ps.Text), nil
	case len(rows) == 0:
		return nil, invalid("the query has %d parameters and no values were bound; bind one row of values", n)
	case len(rows) > 1:
		return nil, invalid("%d rows of parameter values were bound to a query; a query takes one row (an update may take many)", len(rows))
	}
	root, err := sql.CompileBound(ps.Text, rows[0], a.s.engine)
	if err != nil {
		return nil, err
	}
	return &planpb.Query{Root: root}, nil
}

// GetSchemaPreparedStatement answers with the schema of a prepared
// statement's rows.
func (a *sqlServer) GetSchemaPreparedStatement(_ context.Context, cmd flightsql.PreparedStatementQuery, _ *arrowflight.FlightDescriptor) (*arrowflight.SchemaResult, error) {
	ps, err := a.lookup(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	schema := ps.dataset
	if schema == nil {
		schema = countSchema
	}
	return &arrowflight.SchemaResult{Schema: arrowflight.SerializeSchema(schema, a.s.mem)}, nil
}

// DoPutPreparedStatementUpdate runs a prepared update once per row of
// the values sent with it (or bound before).
func (a *sqlServer) DoPutPreparedStatementUpdate(ctx context.Context, cmd flightsql.PreparedStatementUpdate, r arrowflight.MessageReader) (int64, error) {
	ps, err := a.lookup(cmd.GetPreparedStatementHandle())
	if err != nil {
		return 0, err
	}
	if ps.Query {
		return 0, invalid("this prepared statement is a query: execute it as a query to read its rows")
	}
	rows, err := params(ps, r)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		a.mu.Lock()
		rows = ps.bound
		a.mu.Unlock()
	}
	if ps.Params.NumFields() > 0 && len(rows) == 0 {
		return 0, invalid("the statement has %d parameters and no values were bound", ps.Params.NumFields())
	}
	return a.update(ctx, ps.Text, rows)
}

// DoPutCommandStatementUpdate runs a statement that changes tables.
func (a *sqlServer) DoPutCommandStatementUpdate(ctx context.Context, cmd flightsql.StatementUpdate) (int64, error) {
	return a.update(ctx, cmd.GetQuery(), nil)
}

// DoPutCommandStatementIngest stores the uploaded rows as a table, with
// the durability of an upload; create, append and replace map to the
// ingest's table options.
func (a *sqlServer) DoPutCommandStatementIngest(ctx context.Context, cmd flightsql.StatementIngest, r arrowflight.MessageReader) (int64, error) {
	if err := require(ctx, Writer, "bulk ingest"); err != nil {
		return 0, err
	}
	name := cmd.GetTable()
	switch {
	case cmd.GetTemporary():
		return 0, kernels.Errorf(kernels.NotSupported, "bulk ingest into a temporary table is not supported: tables are stored and replicated")
	case cmd.GetCatalog() != "" || cmd.GetSchema() != "":
		return 0, kernels.Errorf(kernels.NotSupported, "bulk ingest into catalog %q schema %q: tables have no catalog or schema here; name the table alone", cmd.GetCatalog(), cmd.GetSchema())
	case len(cmd.GetTransactionId()) > 0:
		return 0, kernels.Errorf(kernels.NotSupported, "transactions are not supported")
	}
	opts := cmd.GetTableDefinitionOptions()
	exists := a.s.engine.Catalog.Current(name) != nil
	mode := catalog.Create
	switch {
	case exists && opts.GetIfExists() == flightsql.TableDefinitionOptionsTableExistsOptionAppend:
		mode = catalog.Append
	case exists && opts.GetIfExists() == flightsql.TableDefinitionOptionsTableExistsOptionReplace:
		mode = catalog.Replace
	case !exists && opts.GetIfNotExist() == flightsql.TableDefinitionOptionsTableNotExistOptionFail:
		return 0, kernels.Errorf(kernels.NotFound, "cannot append to table %q: it does not exist (ingest with mode \"create_append\" creates it)", name)
	}
	written, _, err := a.s.engine.Store(ctx, name, mode, r.Schema(), uploadBatches(r, name, a.s.engine.Settings().MaxBatchSize))
	if err != nil {
		return 0, err
	}
	slog.Info("stored", "table", name, "rows", written, "mode", mode, "via", "Flight SQL ingest")
	return written, nil
}

// CancelFlightInfo serves the deprecated CancelQuery action as Flight's
// CancelFlightInfo (which the native DoAction serves itself).
func (a *sqlServer) CancelFlightInfo(ctx context.Context, req *arrowflight.CancelFlightInfoRequest) (arrowflight.CancelFlightInfoResult, error) {
	body, err := proto.Marshal(req)
	if err != nil {
		return arrowflight.CancelFlightInfoResult{}, err
	}
	out, err := a.s.cancelFlightInfo(ctx, body)
	if err != nil {
		return arrowflight.CancelFlightInfoResult{}, err
	}
	res := &arrowflight.CancelFlightInfoResult{}
	if err := proto.Unmarshal(out, res); err != nil {
		return arrowflight.CancelFlightInfoResult{}, err
	}
	return arrowflight.CancelFlightInfoResult{Status: res.GetStatus()}, nil
}

// Metadata.

// GetFlightInfoCatalogs: tables have no catalog.
func (a *sqlServer) GetFlightInfoCatalogs(_ context.Context, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.Catalogs, d), nil
}

// DoGetCatalogs lists no catalog.
func (a *sqlServer) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	b := array.NewStringBuilder(a.s.mem)
	defer b.Release()
	return oneBatch(schema_ref.Catalogs, b.NewArray())
}

// GetFlightInfoSchemas answers for the one (unnamed) database schema.
func (a *sqlServer) GetFlightInfoSchemas(_ context.Context, _ flightsql.GetDBSchemas, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.DBSchemas, d), nil
}

// inOurCatalog says whether a catalog filter admits tables without a
// catalog (nil: any catalog; "": those without one).
func inOurCatalog(c *string) bool { return c == nil || *c == "" }

// DoGetDBSchemas lists the one database schema.
func (a *sqlServer) DoGetDBSchemas(_ context.Context, cmd flightsql.GetDBSchemas) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	cat, sch := array.NewStringBuilder(a.s.mem), array.NewStringBuilder(a.s.mem)
	defer cat.Release()
	defer sch.Release()
	if inOurCatalog(cmd.GetCatalog()) && like(cmd.GetDBSchemaFilterPattern(), schemaName) {
		cat.AppendNull()
		sch.Append(schemaName)
	}
	return oneBatch(schema_ref.DBSchemas, cat.NewArray(), sch.NewArray())
}

// like matches s against a SQL LIKE pattern (nil matches everything).
func like(pattern *string, s string) bool {
	if pattern == nil {
		return true
	}
	var re strings.Builder
	re.WriteString("^")
	p := *pattern
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			re.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '%':
			re.WriteString(".*")
		case c == '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	re.WriteString("$")
	ok, err := regexp.MatchString("(?s)"+re.String(), s)
	return err == nil && ok
}

// GetFlightInfoTables answers with the schema of the table list.
func (a *sqlServer) GetFlightInfoTables(_ context.Context, cmd flightsql.GetTables, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	if cmd.GetIncludeSchema() {
		return a.metaInfo(schema_ref.TablesWithIncludedSchema, d), nil
	}
	return a.metaInfo(schema_ref.Tables, d), nil
}

// DoGetTables lists the stored tables, with their Arrow schemas when
// asked (JDBC's getColumns and ADBC's get_objects read them).
func (a *sqlServer) DoGetTables(_ context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	schema := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		schema = schema_ref.TablesWithIncludedSchema
	}
	cat, sch, name, typ := array.NewStringBuilder(a.s.mem), array.NewStringBuilder(a.s.mem), array.NewStringBuilder(a.s.mem), array.NewStringBuilder(a.s.mem)
	bin := array.NewBinaryBuilder(a.s.mem, arrow.BinaryTypes.Binary)
	for _, b := range []array.Builder{cat, sch, name, typ, bin} {
		defer b.Release()
	}
	typeOK := len(cmd.GetTableTypes()) == 0
	for _, t := range cmd.GetTableTypes() {
		typeOK = typeOK || strings.EqualFold(t, tableType)
	}
	if inOurCatalog(cmd.GetCatalog()) && like(cmd.GetDBSchemaFilterPattern(), schemaName) && typeOK {
		tables := a.s.engine.Catalog.Tables()
		sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
		for _, t := range tables {
			if !like(cmd.GetTableNameFilterPattern(), t.Name) {
				continue
			}
			cat.AppendNull()
			sch.Append(schemaName)
			name.Append(t.Name)
			typ.Append(tableType)
			bin.Append(arrowflight.SerializeSchema(t.Schema, a.s.mem))
		}
	}
	cols := []arrow.Array{cat.NewArray(), sch.NewArray(), name.NewArray(), typ.NewArray()}
	if cmd.GetIncludeSchema() {
		cols = append(cols, bin.NewArray())
	}
	return oneBatch(schema, cols...)
}

// GetFlightInfoTableTypes answers with the schema of the type list.
func (a *sqlServer) GetFlightInfoTableTypes(_ context.Context, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.TableTypes, d), nil
}

// DoGetTableTypes lists the one table type.
func (a *sqlServer) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	b := array.NewStringBuilder(a.s.mem)
	defer b.Release()
	b.Append(tableType)
	return oneBatch(schema_ref.TableTypes, b.NewArray())
}

// emptyOf streams no rows of schema.
func (a *sqlServer) emptyOf(schema *arrow.Schema) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	b := array.NewRecordBuilder(a.s.mem, schema)
	defer b.Release()
	rec := b.NewRecordBatch()
	ch := make(chan arrowflight.StreamChunk, 1)
	ch <- arrowflight.StreamChunk{Data: rec}
	close(ch)
	return schema, ch, nil
}

// GetFlightInfoPrimaryKeys: tables have no keys.
func (a *sqlServer) GetFlightInfoPrimaryKeys(_ context.Context, _ flightsql.TableRef, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.PrimaryKeys, d), nil
}

// DoGetPrimaryKeys lists no key.
func (a *sqlServer) DoGetPrimaryKeys(context.Context, flightsql.TableRef) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	return a.emptyOf(schema_ref.PrimaryKeys)
}

// GetFlightInfoExportedKeys: tables have no foreign keys.
func (a *sqlServer) GetFlightInfoExportedKeys(_ context.Context, _ flightsql.TableRef, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.ExportedKeys, d), nil
}

// DoGetExportedKeys lists no key.
func (a *sqlServer) DoGetExportedKeys(context.Context, flightsql.TableRef) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	return a.emptyOf(schema_ref.ExportedKeys)
}

// GetFlightInfoImportedKeys: tables have no foreign keys.
func (a *sqlServer) GetFlightInfoImportedKeys(_ context.Context, _ flightsql.TableRef, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.ImportedKeys, d), nil
}

// DoGetImportedKeys lists no key.
func (a *sqlServer) DoGetImportedKeys(context.Context, flightsql.TableRef) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	return a.emptyOf(schema_ref.ImportedKeys)
}

// GetFlightInfoCrossReference: tables have no foreign keys.
func (a *sqlServer) GetFlightInfoCrossReference(_ context.Context, _ flightsql.CrossTableRef, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.CrossReference, d), nil
}

// DoGetCrossReference lists no key.
func (a *sqlServer) DoGetCrossReference(context.Context, flightsql.CrossTableRef) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	return a.emptyOf(schema_ref.CrossReference)
}

// GetFlightInfoXdbcTypeInfo answers with the schema of the type list.
func (a *sqlServer) GetFlightInfoXdbcTypeInfo(_ context.Context, _ flightsql.GetXdbcTypeInfo, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	return a.metaInfo(schema_ref.XdbcTypeInfo, d), nil
}

// DoGetXdbcTypeInfo lists the SQL types the node stores, as JDBC and ODBC
// name them.
func (a *sqlServer) DoGetXdbcTypeInfo(_ context.Context, cmd flightsql.GetXdbcTypeInfo) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	b := array.NewRecordBuilder(a.s.mem, schema_ref.XdbcTypeInfo)
	defer b.Release()
	for _, t := range xdbcTypes {
		if cmd.GetDataType() != nil && *cmd.GetDataType() != t.code {
			continue
		}
		str := func(i int, s string) {
			if s == "" {
				b.Field(i).AppendNull()
			} else {
				b.Field(i).(*array.StringBuilder).Append(s)
			}
		}
		b.Field(0).(*array.StringBuilder).Append(t.name)
		b.Field(1).(*array.Int32Builder).Append(t.code)
		b.Field(2).(*array.Int32Builder).Append(t.size)
		str(3, t.quote)
		str(4, t.quote)
		params := b.Field(5).(*array.ListBuilder)
		params.Append(true)
		for _, p := range t.params {
			params.ValueBuilder().(*array.StringBuilder).Append(p)
		}
		b.Field(6).(*array.Int32Builder).Append(1) // nullable
		b.Field(7).(*array.BooleanBuilder).Append(t.quote != "")
		b.Field(8).(*array.Int32Builder).Append(3) // searchable
		b.Field(9).(*array.BooleanBuilder).Append(false)
		b.Field(10).(*array.BooleanBuilder).Append(t.code == 3)
		b.Field(11).(*array.BooleanBuilder).Append(false)
		str(12, t.name)
		b.Field(13).(*array.Int32Builder).Append(0)
		b.Field(14).(*array.Int32Builder).Append(t.maxScale)
		b.Field(15).(*array.Int32Builder).Append(t.code)
		b.Field(16).AppendNull()
		b.Field(17).(*array.Int32Builder).Append(10)
		b.Field(18).AppendNull()
	}
	rec := b.NewRecordBatch()
	ch := make(chan arrowflight.StreamChunk, 1)
	ch <- arrowflight.StreamChunk{Data: rec}
	close(ch)
	return schema_ref.XdbcTypeInfo, ch, nil
}

// xdbcTypes are the SQL types of the columns a table may hold (java.sql.Types codes).
var xdbcTypes = []struct {
	name       string
	code, size int32
	quote      string
	params     []string
	maxScale   int32
}{
	{name: "BOOLEAN", code: 16, size: 1},
	{name: "TINYINT", code: -6, size: 3},
	{name: "SMALLINT", code: 5, size: 5},
	{name: "INTEGER", code: 4, size: 10},
	{name: "BIGINT", code: -5, size: 19},
	{name: "REAL", code: 7, size: 7},
	{name: "DOUBLE", code: 8, size: 15},
	{name: "DECIMAL", code: 3, size: 38, params: []string{"precision", "scale"}, maxScale: 38},
	{name: "VARCHAR", code: 12, size: 1 << 30, quote: "'"},
	{name: "DATE", code: 91, size: 10, quote: "'"},
	{name: "TIMESTAMP", code: 93, size: 26, quote: "'"},
}

// DoGetSqlInfo answers with the ids asked for that the node knows (all
// of them when none is named), leaving out the ones it does not.
func (a *sqlServer) DoGetSqlInfo(ctx context.Context, cmd flightsql.GetSqlInfo) (*arrow.Schema, <-chan arrowflight.StreamChunk, error) {
	if len(cmd.GetInfo()) == 0 {
		return a.BaseServer.DoGetSqlInfo(ctx, cmd)
	}
	known := sqlInfo()
	var ids []uint32
	for _, id := range cmd.GetInfo() {
		if _, ok := known[flightsql.SqlInfo(id)]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return a.emptyOf(schema_ref.SqlInfo)
	}
	return a.BaseServer.DoGetSqlInfo(ctx, infoIDs(ids))
}

type infoIDs []uint32

func (i infoIDs) GetInfo() []uint32 { return i }

// doPutSQL serves a Flight SQL DoPut: the stream is decoded, as an upload
// is, with an allocator that refuses buffers bigger than a batch may be.
func (s *Service) doPutSQL(stream arrowflight.FlightService_DoPutServer) error {
	mem := budget.Untrusted(s.mem, s.engine.Settings().MaxBatchSize, "--max-batch-size")
	defer func() {
		if n := mem.Settle(); n > 0 {
			slog.Warn("freed what a failed decode of a Flight SQL upload dropped", "bytes", n)
		}
	}()
	return s.sql.routes(mem).DoPut(verifiedStream{stream})
}

// replayed is a DoPut stream whose first message was read already.
type replayed struct {
	arrowflight.FlightService_DoPutServer
	first *arrowflight.FlightData
}

func (r *replayed) Recv() (*arrowflight.FlightData, error) {
	if f := r.first; f != nil {
		r.first = nil
		return f, nil
	}
	return r.FlightService_DoPutServer.Recv()
}

// uploadBatches reads the batches of an upload to table, refusing one
// bigger than maxBatch bytes and checking each (it is input from outside
// the node); it ends with (nil, nil).
func uploadBatches(r array.RecordReader, table string, maxBatch int64) func() (arrow.RecordBatch, error) {
	batches := 0
	return func() (arrow.RecordBatch, error) {
		if r.Next() {
			b := r.RecordBatch()
			batches++
			what := fmt.Sprintf("uploaded batch %d of %q", batches, table)
			if n := exec.BatchBytes(b); n > maxBatch {
				return nil, kernels.Errorf(kernels.ResourceExhausted, "%s holds %s, more than the node's --max-batch-size of %s; send smaller batches",
					what, budget.FormatBytes(n), budget.FormatBytes(maxBatch))
			}
			if err := exec.ValidateBatch(b, what); err != nil {
				return nil, err
			}
			b.Retain()
			return b, nil
		}
		if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
			return nil, uploadError(fmt.Sprintf("upload of %q interrupted", table), err)
		}
		return nil, nil
	}
}

// notSupported answers the Flight SQL calls the node does not serve.
func notSupported(what string) error {
	return status.Errorf(codes.Unimplemented, "Flight SQL: %s are not supported by Slipstream", what)
}

// BeginTransaction is refused: statements take effect at once.
func (a *sqlServer) BeginTransaction(context.Context, flightsql.ActionBeginTransactionRequest) ([]byte, error) {
	return nil, notSupported("transactions (each statement takes effect at once)")
}

// arrowVersion is the version of arrow-go the node is built with.
func arrowVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/apache/arrow-go/v18" {
				return m.Version
			}
		}
	}
	return "v18"
}

// sqlInfo is what GetSqlInfo answers: every id ADBC's get_info and the
// JDBC driver's DatabaseMetaData read.
func sqlInfo() map[flightsql.SqlInfo]any {
	keywords := []string{"ALL", "AND", "AS", "ASC", "BETWEEN", "BY", "CASE", "CAST", "COPY", "CREATE", "CROSS", "DESC", "DISTINCT",
		"DROP", "ELSE", "END", "EXCEPT", "EXISTS", "EXPLAIN", "EXTRACT", "FROM", "FULL", "GROUP", "HAVING", "ILIKE", "IN", "INNER",
		"INSERT", "INTERSECT", "INTERVAL", "INTO", "IS", "JOIN", "LEFT", "LIKE", "LIMIT", "NOT", "NULL", "OFFSET", "ON", "OR", "ORDER",
		"OUTER", "OVER", "PARTITION", "RIGHT", "SELECT", "TABLE", "THEN", "UNION", "VALUES", "WHEN", "WHERE", "WINDOW", "WITH"}
	return map[flightsql.SqlInfo]any{
		flightsql.SqlInfoFlightSqlServerName:                                 "Slipstream",
		flightsql.SqlInfoFlightSqlServerVersion:                              Version,
		flightsql.SqlInfoFlightSqlServerArrowVersion:                         arrowVersion(),
		flightsql.SqlInfoFlightSqlServerReadOnly:                             false,
		flightsql.SqlInfoFlightSqlServerSql:                                  true,
		flightsql.SqlInfoFlightSqlServerSubstrait:                            false,
		flightsql.SqlInfoFlightSqlServerTransaction:                          int32(flightsql.SqlTransactionNone),
		flightsql.SqlInfoFlightSqlServerCancel:                               true,
		flightsql.SqlInfoFlightSqlServerBulkIngestion:                        true,
		flightsql.SqlInfoFlightSqlServerIngestTransactionsSupported:          false,
		flightsql.SqlInfoFlightSqlServerStatementTimeout:                     int32(0),
		flightsql.SqlInfoFlightSqlServerTransactionTimeout:                   int32(0),
		flightsql.SqlInfoDDLCatalog:                                          false,
		flightsql.SqlInfoDDLSchema:                                           false,
		flightsql.SqlInfoDDLTable:                                            true,
		flightsql.SqlInfoIdentifierCase:                                      int32(flightsql.SqlCaseSensitivityCaseInsensitive),
		flightsql.SqlInfoIdentifierQuoteChar:                                 `"`,
		flightsql.SqlInfoQuotedIdentifierCase:                                int32(flightsql.SqlCaseSensitivityCaseInsensitive),
		flightsql.SqlInfoAllTablesAreASelectable:                             true,
		flightsql.SqlInfoNullOrdering:                                        int32(flightsql.SqlNullOrderingSortAtEnd),
		flightsql.SqlInfoKeywords:                                            keywords,
		flightsql.SqlInfoNumericFunctions:                                    []string{"abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log10", "power"},
		flightsql.SqlInfoStringFunctions:                                     []string{"lower", "upper", "length", "substring", "trim", "replace", "concat", "starts_with", "ends_with", "contains", "regexp_matches", "regexp_replace"},
		flightsql.SqlInfoSystemFunctions:                                     []string{"coalesce"},
		flightsql.SqlInfoDateTimeFunctions:                                   []string{"extract", "date_part", "year", "month", "day", "hour", "minute", "second"},
		flightsql.SqlInfoSearchStringEscape:                                  `\`,
		flightsql.SqlInfoExtraNameChars:                                      "",
		flightsql.SqlInfoSupportsColumnAliasing:                              true,
		flightsql.SqlInfoNullPlusNullIsNull:                                  true,
		flightsql.SqlInfoSupportsConvert:                                     map[int32][]int32{},
		flightsql.SqlInfoSupportsTableCorrelationNames:                       true,
		flightsql.SqlInfoSupportsDifferentTableCorrelationNames:              false,
		flightsql.SqlInfoSupportsExpressionsInOrderBy:                        true,
		flightsql.SqlInfoSupportsOrderByUnrelated:                            true,
		flightsql.SqlInfoSupportedGroupBy:                                    int32(1<<0 | 1<<1), // unrelated, beyond select
		flightsql.SqlInfoSupportsLikeEscapeClause:                            false,
		flightsql.SqlInfoSupportsNonNullableColumns:                          false,
		flightsql.SqlInfoSupportedGrammar:                                    int32(1<<0 | 1<<1), // minimum, core
		flightsql.SqlInfoANSI92SupportedLevel:                                int32(1 << 0),      // entry
		flightsql.SqlInfoSupportsIntegrityEnhancementFacility:                false,
		flightsql.SqlInfoOuterJoinsSupportLevel:                              int32(1 << 2), // full
		flightsql.SqlInfoSchemaTerm:                                          "schema",
		flightsql.SqlInfoProcedureTerm:                                       "procedure",
		flightsql.SqlInfoCatalogTerm:                                         "catalog",
		flightsql.SqlInfoCatalogAtStart:                                      false,
		flightsql.SqlInfoSchemasSupportedActions:                             int32(0),
		flightsql.SqlInfoCatalogsSupportedActions:                            int32(0),
		flightsql.SqlInfoSupportedPositionedCommands:                         int32(0),
		flightsql.SqlInfoSelectForUpdateSupported:                            false,
		flightsql.SqlInfoStoredProceduresSupported:                           false,
		flightsql.SqlInfoSupportedSubqueries:                                 int32(1<<0 | 1<<1 | 1<<2), // comparisons, EXISTS, IN
		flightsql.SqlInfoCorrelatedSubqueriesSupported:                       true,
		flightsql.SqlInfoSupportedUnions:                                     int32(1 << 1), // UNION ALL
		flightsql.SqlInfoMaxBinaryLiteralLen:                                 int64(0),
		flightsql.SqlInfoMaxCharLiteralLen:                                   int64(0),
		flightsql.SqlInfoMaxColumnNameLen:                                    int64(0),
		flightsql.SqlInfoMaxColumnsInGroupBy:                                 int64(0),
		flightsql.SqlInfoMaxColumnsInIndex:                                   int64(0),
		flightsql.SqlInfoMaxColumnsInOrderBy:                                 int64(0),
		flightsql.SqlInfoMaxColumnsInSelect:                                  int64(0),
		flightsql.SqlInfoMaxColumnsInTable:                                   int64(0),
		flightsql.SqlInfoMaxConnections:                                      int64(0),
		flightsql.SqlInfoMaxCursorNameLen:                                    int64(0),
		flightsql.SqlInfoMaxIndexLen:                                         int64(0),
		flightsql.SqlInfoDBSchemaNameLen:                                     int64(0),
		flightsql.SqlInfoMaxProcedureNameLen:                                 int64(0),
		flightsql.SqlInfoMaxCatalogNameLen:                                   int64(0),
		flightsql.SqlInfoMaxRowSize:                                          int64(0),
		flightsql.SqlInfoMaxRowSizeIncludesBlobs:                             false,
		flightsql.SqlInfoMaxStatementLen:                                     int64(0),
		flightsql.SqlInfoMaxStatements:                                       int64(maxPrepared),
		flightsql.SqlInfoMaxTableNameLen:                                     int64(0),
		flightsql.SqlInfoMaxTablesInSelect:                                   int64(0),
		flightsql.SqlInfoMaxUsernameLen:                                      int64(0),
		flightsql.SqlInfoDefaultTransactionIsolation:                         int64(0), // none
		flightsql.SqlInfoTransactionsSupported:                               false,
		flightsql.SqlInfoSupportedTransactionsIsolationlevels:                int32(1 << 0), // none
		flightsql.SqlInfoDataDefinitionCausesTransactionCommit:               false,
		flightsql.SqlInfoDataDefinitionsInTransactionsIgnored:                false,
		flightsql.SqlInfoSupportedResultSetTypes:                             int32(1 << 1), // forward only
		flightsql.SqlInfoSupportedConcurrenciesForResultSetUnspecified:       int32(0),
		flightsql.SqlInfoSupportedConcurrenciesForResultSetForwardOnly:       int32(1 << 1), // read only
		flightsql.SqlInfoSupportedConcurrenciesForResultSetScrollSensitive:   int32(0),
		flightsql.SqlInfoSupportedConcurrenciesForResultSetScrollInsensitive: int32(0),
		flightsql.SqlInfoBatchUpdatesSupported:                               true,
		flightsql.SqlInfoSavePointsSupported:                                 false,
		flightsql.SqlInfoNamedParametersSupported:                            false,
		flightsql.SqlInfoLocatorsUpdateCopy:                                  false,
		flightsql.SqlInfoStoredFunctionsUsingCallSyntaxSupported:             false,
	}
}
