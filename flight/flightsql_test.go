package flight

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	pb "slipstream/scheduler/planpb"
)

// sqlClient is arrow-go's Flight SQL client on a test node.
func sqlClient(t *testing.T, n *testNode) *flightsql.Client {
	t.Helper()
	c, err := flightsql.NewClient(strings.TrimPrefix(n.addr, "grpc://"), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fetch reads every endpoint of info and returns the rows as text, one
// line per row.
func fetch(ctx context.Context, t *testing.T, c *flightsql.Client, info *arrowflight.FlightInfo) (*arrow.Schema, []string) {
	t.Helper()
	var rows []string
	var schema *arrow.Schema
	for _, ep := range info.GetEndpoint() {
		r, err := c.DoGet(ctx, ep.GetTicket())
		if err != nil {
			t.Fatal(err)
		}
		schema = r.Schema()
		for r.Next() {
			b := r.RecordBatch()
			for i := 0; i < int(b.NumRows()); i++ {
				var cells []string
				for _, col := range b.Columns() {
					cells = append(cells, col.ValueStr(i))
				}
				rows = append(rows, strings.Join(cells, ","))
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	return schema, rows
}

func int64Batch(vals ...int64) arrow.RecordBatch {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	arr := b.NewArray()
	defer arr.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{arr}, int64(len(vals)))
}

// Queries, prepared statements with parameters, statements that change
// tables and bulk ingest, through arrow-go's Flight SQL client, on the
// port of the native protocol, which keeps working beside it.
func TestFlightSQLStatements(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	rec := ints(10)
	defer rec.Release()
	if _, err := n.put(t, "t", pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	c := sqlClient(t, n)

	info, err := c.Execute(ctx, "SELECT x, x * 2 AS y FROM t WHERE x >= 7 ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(ctx, t, c, info); strings.Join(rows, " ") != "7,14 8,16 9,18" {
		t.Errorf("statement query: got %v", rows)
	}

	prep, err := c.Prepare(ctx, "SELECT x FROM t WHERE x > ? AND x < ? ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	if got := prep.ParameterSchema().String(); !strings.Contains(got, "$1: type=int64") || !strings.Contains(got, "$2: type=int64") {
		t.Errorf("parameter schema: %s", got)
	}
	if upd, ok := prep.IsUpdate(); !ok || upd {
		t.Errorf("a query's is_update: %v (set: %v)", upd, ok)
	}
	if got := prep.DatasetSchema(); got == nil || got.NumFields() != 1 || got.Field(0).Name != "x" {
		t.Errorf("dataset schema: %v", got)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, prep.ParameterSchema())
	b.Field(0).(*array.Int64Builder).Append(2)
	b.Field(1).(*array.Int64Builder).Append(6)
	params := b.NewRecordBatch()
	b.Release()
	prep.SetParameters(params)
	info, err = prep.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(ctx, t, c, info); strings.Join(rows, " ") != "3 4 5" {
		t.Errorf("prepared query: got %v", rows)
	}
	params.Release()
	if err := prep.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadPreparedStatementFromResult(&flightsql.CreatePreparedStatementResult{PreparedStatementHandle: prep.Handle()}); err != nil {
		t.Fatal(err)
	} else if stale, _ := c.LoadPreparedStatementFromResult(&flightsql.CreatePreparedStatementResult{PreparedStatementHandle: prep.Handle()}); stale != nil {
		if _, err := stale.Execute(ctx); code(err) != codes.NotFound {
			t.Errorf("a closed statement: got %v, want NotFound", err)
		}
	}

	// Bulk ingest: create, then append, then replace.
	in := int64Batch(1, 2, 3)
	defer in.Release()
	for _, c2 := range []struct {
		opts *flightsql.TableDefinitionOptions
		rows string
	}{
		{&flightsql.TableDefinitionOptions{IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionCreate, IfExists: flightsql.TableDefinitionOptionsTableExistsOptionFail}, "3"},
		{&flightsql.TableDefinitionOptions{IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionFail, IfExists: flightsql.TableDefinitionOptionsTableExistsOptionAppend}, "6"},
		{&flightsql.TableDefinitionOptions{IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionCreate, IfExists: flightsql.TableDefinitionOptionsTableExistsOptionReplace}, "3"},
	} {
		rdr, _ := array.NewRecordReader(in.Schema(), []arrow.RecordBatch{in})
		got, err := c.ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{Table: "ing", TableDefinitionOptions: c2.opts})
		rdr.Release()
		if err != nil || got != 3 {
			t.Fatalf("ingest %v: %d rows, %v", c2.opts, got, err)
		}
		info, err := c.Execute(ctx, "SELECT count(*) FROM ing")
		if err != nil {
			t.Fatal(err)
		}
		if _, rows := fetch(ctx, t, c, info); strings.Join(rows, " ") != c2.rows {
			t.Errorf("after ingest %v: %v rows, want %s", c2.opts, rows, c2.rows)
		}
	}
	rdr, _ := array.NewRecordReader(in.Schema(), []arrow.RecordBatch{in})
	_, err = c.ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{Table: "ing", TableDefinitionOptions: &flightsql.TableDefinitionOptions{
		IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionCreate, IfExists: flightsql.TableDefinitionOptionsTableExistsOptionFail}})
	rdr.Release()
	if code(err) != codes.AlreadyExists {
		t.Errorf("ingest create over a table: got %v, want AlreadyExists", err)
	}

	// A statement that changes tables, by ExecuteUpdate and as a query.
	if got, err := c.ExecuteUpdate(ctx, "DROP TABLE ing"); err != nil || got != 0 {
		t.Errorf("DROP TABLE: %d, %v", got, err)
	}
	if _, err := c.ExecuteUpdate(ctx, "DROP TABLE ing"); code(err) != codes.NotFound {
		t.Errorf("DROP TABLE of a dropped table: got %v, want NotFound", err)
	}
	info, err = c.Execute(ctx, "DROP TABLE IF EXISTS ing")
	if err != nil {
		t.Fatal(err)
	}
	if schema, rows := fetch(ctx, t, c, info); strings.Join(rows, " ") != "0" || schema.Field(0).Name != "count" {
		t.Errorf("DROP TABLE as a query: %v %v", schema, rows)
	}
	if _, err := c.ExecuteUpdate(ctx, "SELECT x FROM t"); code(err) != codes.InvalidArgument {
		t.Errorf("a query as an update: got %v, want InvalidArgument", err)
	}

	// A prepared update says so, and runs once per row of values.
	prep, err = c.Prepare(ctx, "DROP TABLE IF EXISTS t")
	if err != nil {
		t.Fatal(err)
	}
	if upd, ok := prep.IsUpdate(); !ok || !upd {
		t.Errorf("an update's is_update: %v (set: %v)", upd, ok)
	}
	if got, err := prep.ExecuteUpdate(ctx); err != nil || got != 0 {
		t.Errorf("prepared DROP TABLE: %d, %v", got, err)
	}
	prep.Close(ctx)

	// The native protocol on the same port.
	if _, err := n.put(t, "t", pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	if rows, _, err := n.query(t, scan("t")); err != nil || rows != 10 {
		t.Errorf("native query beside Flight SQL: %d rows, %v", rows, err)
	}
}

// The metadata calls ADBC and JDBC make.
func TestFlightSQLMetadata(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	rec := ints(3)
	defer rec.Release()
	for _, name := range []string{"alpha", "beta"} {
		if _, err := n.put(t, name, pb.Upload_CREATE, rec); err != nil {
			t.Fatal(err)
		}
	}
	c := sqlClient(t, n)
	pattern := "al%"
	info, err := c.GetTables(ctx, &flightsql.GetTablesOpts{TableNameFilterPattern: &pattern, IncludeSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.DoGet(ctx, info.GetEndpoint()[0].GetTicket())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatal(r.Err())
	}
	b := r.RecordBatch()
	if b.NumRows() != 1 || b.Column(2).ValueStr(0) != "alpha" || b.Column(3).ValueStr(0) != "TABLE" {
		t.Errorf("GetTables: %v", b)
	}
	s, err := arrowflight.DeserializeSchema(b.Column(4).(*array.Binary).Value(0), memory.DefaultAllocator)
	if err != nil || s.NumFields() != 1 || s.Field(0).Name != "x" {
		t.Errorf("GetTables' table_schema: %v, %v", s, err)
	}
	r.Release()

	all := func(info *arrowflight.FlightInfo, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		_, rows := fetch(ctx, t, c, info)
		return rows
	}
	if got := all(c.GetCatalogs(ctx)); len(got) != 0 {
		t.Errorf("GetCatalogs: %v", got)
	}
	if got := all(c.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{})); strings.Join(got, " ") != "(null)," {
		t.Errorf("GetDBSchemas: %q", got)
	}
	if got := all(c.GetTableTypes(ctx)); strings.Join(got, " ") != "TABLE" {
		t.Errorf("GetTableTypes: %v", got)
	}
	if got := all(c.GetPrimaryKeys(ctx, flightsql.TableRef{Table: "alpha"})); len(got) != 0 {
		t.Errorf("GetPrimaryKeys: %v", got)
	}
	if got := all(c.GetXdbcTypeInfo(ctx, nil)); len(got) != len(xdbcTypes) || !strings.HasPrefix(got[0], "BOOLEAN,16") {
		t.Errorf("GetXdbcTypeInfo: %v", got)
	}
	// ADBC's get_info asks for these ids, some of which the node does not
	// have (Substrait versions): they are left out, not refused.
	got := all(c.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName, flightsql.SqlInfoFlightSqlServerVersion,
		flightsql.SqlInfoFlightSqlServerArrowVersion, flightsql.SqlInfoFlightSqlServerSql, flightsql.SqlInfoFlightSqlServerSubstrait,
		flightsql.SqlInfoFlightSqlServerSubstraitMinVersion, flightsql.SqlInfoFlightSqlServerSubstraitMaxVersion}))
	if len(got) != 5 || !strings.Contains(got[0], "Slipstream") {
		t.Errorf("GetSqlInfo: %v", got)
	}
	if got := all(c.GetSqlInfo(ctx, nil)); len(got) != len(sqlInfo()) {
		t.Errorf("GetSqlInfo of everything: %d ids, want %d", len(got), len(sqlInfo()))
	}
}

// Flight SQL calls check roles: a reader queries and binds parameters, a
// writer changes tables; a call with no token is refused.
func TestFlightSQLRoles(t *testing.T) {
	a := startAuthed(t)
	rec := ints(5)
	defer rec.Release()
	if err := putCtx(bearerCtx(a.tok["writer"]), a.client, "t", rec); err != nil {
		t.Fatal(err)
	}
	c := sqlClient(t, a.testNode)
	reader := bearerCtx(a.tok["reader"])
	if _, err := c.Execute(context.Background(), "SELECT x FROM t"); code(err) != codes.Unauthenticated {
		t.Errorf("no token: got %v, want Unauthenticated", err)
	}
	info, err := c.Execute(reader, "SELECT x FROM t WHERE x > 2 ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(reader, t, c, info); strings.Join(rows, " ") != "3 4" {
		t.Errorf("reader's query: %v", rows)
	}
	prep, err := c.Prepare(reader, "SELECT x FROM t WHERE x = ?")
	if err != nil {
		t.Fatal(err)
	}
	p := int64Batch(4)
	defer p.Release()
	prep.SetParameters(p)
	info, err = prep.Execute(reader)
	if err != nil {
		t.Fatalf("a reader binds a query's parameters: %v", err)
	}
	if _, rows := fetch(reader, t, c, info); strings.Join(rows, " ") != "4" {
		t.Errorf("reader's prepared query: %v", rows)
	}
	wantCode(t, "reader's DROP TABLE", func() error { _, err := c.ExecuteUpdate(reader, "DROP TABLE t"); return err }(), codes.PermissionDenied, "needs role writer")
	_, err = c.Execute(reader, "DROP TABLE t")
	wantCode(t, "reader's DROP TABLE as a query", err, codes.PermissionDenied, "needs role writer")
	up := int64Batch(1)
	defer up.Release()
	rdr, _ := array.NewRecordReader(up.Schema(), []arrow.RecordBatch{up})
	_, err = c.ExecuteIngest(reader, rdr, &flightsql.ExecuteIngestOpts{Table: "u", TableDefinitionOptions: &flightsql.TableDefinitionOptions{
		IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionCreate}})
	rdr.Release()
	wantCode(t, "reader's ingest", err, codes.PermissionDenied, "needs role writer")
	if _, err := c.ExecuteUpdate(bearerCtx(a.tok["writer"]), "DROP TABLE t"); err != nil {
		t.Errorf("writer's DROP TABLE: %v", err)
	}

	// The JDBC driver's token= sends a Handshake carrying the bearer: a
	// valid one is answered with itself, a wrong one refused.
	for tok, want := range map[string]codes.Code{a.tok["reader"]: codes.OK, "sst_nope": codes.Unauthenticated} {
		hs, err := a.client.Handshake(bearerCtx(tok))
		if err != nil {
			t.Fatal(err)
		}
		hs.CloseSend()
		_, err = hs.Recv()
		if err == io.EOF {
			err = nil
		}
		if code(err) != want {
			t.Errorf("Handshake with a bearer: got %v, want %s", err, want)
		}
		if want == codes.OK && strings.Join(hs.Trailer().Get("authorization"), "") != "Bearer "+tok {
			t.Errorf("Handshake with a bearer answered %v", hs.Trailer())
		}
	}
}
