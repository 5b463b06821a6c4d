package sql

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"slipstream/kernels"
	"slipstream/scheduler/plan"
	pb "slipstream/scheduler/planpb"
)

// Kind sorts statements by what running one means.
type Kind int

const (
	// Query returns rows (SELECT, WITH, VALUES): Statement.Input.
	Query Kind = iota
	// CreateTable makes an empty table: Statement.Schema.
	CreateTable
	// CreateTableAs stores Statement.Input's rows as a new table.
	CreateTableAs
	// Insert appends Statement.Input's rows to a table.
	Insert
	// DropTable drops a table.
	DropTable
	// CopyTo writes Statement.Input's rows as files under Statement.Path.
	CopyTo
	// Explain returns the plan of the query Statement.Input as rows.
	Explain
)

func (k Kind) String() string {
	return [...]string{"a query", "CREATE TABLE", "CREATE TABLE AS", "INSERT", "DROP TABLE", "COPY TO", "EXPLAIN"}[k]
}

// Statement is one SQL statement, parsed and bound.
type Statement struct {
	Kind  Kind
	Table string // the table it creates, fills or drops
	// Input is the rows the statement reads, compiled to a plan.
	Input *pb.Node
	// Schema is CREATE TABLE's columns.
	Schema *arrow.Schema
	// Columns is INSERT's column list (nil: every column in order).
	Columns []string
	// IfExists is DROP TABLE IF EXISTS; IfNotExists CREATE TABLE IF NOT
	// EXISTS; OrReplace CREATE OR REPLACE TABLE.
	IfExists, IfNotExists, OrReplace bool
	// Path and Format are COPY TO's target.
	Path, Format string
}

// IsQuery says whether text is a statement that returns rows rather than
// one that changes tables (DDL or DML). Text that does not parse counts
// as a query: compiling it reports the syntax error.
func IsQuery(text string) bool {
	tree, err := pg.Parse(dialect(text))
	if err != nil || len(tree.GetStmts()) != 1 {
		return true
	}
	stmt := tree.GetStmts()[0].GetStmt()
	return stmt.GetSelectStmt() != nil || stmt.GetExplainStmt() != nil
}

// Lines is rows of one text column name, one per line of text (EXPLAIN's
// answer).
func Lines(name, text string) *pb.Node {
	var rows [][]*pb.Expr
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		rows = append(rows, []*pb.Expr{str(l)})
	}
	return valuesNode([]string{name}, rows)
}

// Parse parses and binds one statement of any kind; tables and r are as
// for Compile.
func Parse(text string, tables map[string]*pb.Node, r plan.Resolver) (*Statement, error) {
	tree, err := pg.Parse(dialect(text))
	if err != nil {
		return nil, syntaxError(text, err)
	}
	stmts := tree.GetStmts()
	if len(stmts) != 1 {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: want one statement, got %d", len(stmts))
	}
	c := &compiler{text: text, r: r, ctes: map[string]*pb.Node{}, aliases: map[string]bool{}, sublinks: map[*pg.SubLink]string{}}
	for name, n := range tables {
		c.ctes[strings.ToLower(name)] = n
	}
	stmt := stmts[0].GetStmt()
	switch {
	case stmt.GetSelectStmt() != nil:
		n, err := c.query(stmt.GetSelectStmt())
		return &Statement{Kind: Query, Input: n}, err
	case stmt.GetExplainStmt() != nil:
		ex := stmt.GetExplainStmt()
		for _, o := range ex.GetOptions() {
			if name := strings.ToLower(o.GetDefElem().GetDefname()); name != "verbose" {
				return nil, notSupported("EXPLAIN " + strings.ToUpper(name) + " in SQL text (explain(analyze=True) runs a query and shows its figures)")
			}
		}
		sel := ex.GetQuery().GetSelectStmt()
		if sel == nil {
			return nil, notSupported("EXPLAIN of anything but a query")
		}
		n, err := c.query(sel)
		return &Statement{Kind: Explain, Input: n}, err
	case stmt.GetDropStmt() != nil:
		return c.drop(stmt.GetDropStmt())
	case stmt.GetCreateTableAsStmt() != nil:
		return c.createAs(stmt.GetCreateTableAsStmt(), orReplace.MatchString(text))
	case stmt.GetCreateStmt() != nil:
		return c.create(stmt.GetCreateStmt(), orReplace.MatchString(text))
	case stmt.GetInsertStmt() != nil:
		return c.insert(stmt.GetInsertStmt())
	case stmt.GetCopyStmt() != nil:
		return c.copyTo(stmt.GetCopyStmt())
	}
	return nil, notSupported(statementName(stmt) + " statements")
}

// orReplace finds DuckDB's CREATE OR REPLACE TABLE, which Postgres'
// grammar lacks; rewrite blanks "OR REPLACE" out (positions stay true).
var orReplace = regexp.MustCompile(`(?i)^(\s*create\s+)(or\s+replace)(\s+table\b)`)

// dialect turns DuckDB's spellings Postgres' grammar lacks into ones it
// has, keeping every character's position (error carets stay true).
func dialect(text string) string {
	text = groupByAll.ReplaceAllString(text, `$1"*"$2`)
	if m := orReplace.FindStringSubmatchIndex(text); m != nil {
		text = text[:m[4]] + strings.Repeat(" ", m[5]-m[4]) + text[m[5]:]
	}
	return text
}

func (c *compiler) createAs(s *pg.CreateTableAsStmt, replace bool) (*Statement, error) {
	if s.GetObjtype() != pg.ObjectType_OBJECT_TABLE {
		return nil, notSupported("CREATE MATERIALIZED VIEW and other CREATE ... AS but TABLE")
	}
	into := s.GetInto()
	sel := s.GetQuery().GetSelectStmt()
	if sel == nil {
		return nil, notSupported("CREATE TABLE AS of anything but a query")
	}
	if into.GetSkipData() {
		return nil, notSupported("CREATE TABLE AS ... WITH NO DATA")
	}
	n, err := c.query(sel)
	if err != nil {
		return nil, err
	}
	if names := into.GetColNames(); len(names) > 0 {
		if n, err = c.renameColumns(n, names, into.GetRel().GetRelname()); err != nil {
			return nil, err
		}
	}
	if err := c.temporary(into.GetRel()); err != nil {
		return nil, err
	}
	return &Statement{Kind: CreateTableAs, Table: into.GetRel().GetRelname(), Input: n, IfNotExists: s.GetIfNotExists(), OrReplace: replace}, nil
}

// temporary refuses TEMP and UNLOGGED tables: every table is stored.
func (c *compiler) temporary(rel *pg.RangeVar) error {
	if rel.GetRelpersistence() != "p" && rel.GetRelpersistence() != "" {
		return notSupported("TEMPORARY and UNLOGGED tables (every table is stored and replicated)")
	}
	return nil
}

func (c *compiler) create(s *pg.CreateStmt, replace bool) (*Statement, error) {
	if err := c.temporary(s.GetRelation()); err != nil {
		return nil, err
	}
	if len(s.GetInhRelations()) > 0 || s.GetPartspec() != nil {
		return nil, notSupported("INHERITS and PARTITION BY in CREATE TABLE")
	}
	var fields []arrow.Field
	for _, el := range s.GetTableElts() {
		def := el.GetColumnDef()
		if def == nil {
			return nil, notSupported("table constraints in CREATE TABLE (PRIMARY KEY, UNIQUE, CHECK, FOREIGN KEY)")
		}
		if len(def.GetConstraints()) > 0 {
			return nil, notSupported(fmt.Sprintf("column constraints in CREATE TABLE (on column %q): tables hold no keys, defaults or NOT NULL rules", def.GetColname()))
		}
		pt, err := typeOf(def.GetTypeName())
		if err != nil {
			return nil, err
		}
		t, err := plan.DataType(pt)
		if err != nil {
			return nil, err
		}
		fields = append(fields, arrow.Field{Name: def.GetColname(), Type: t, Nullable: true})
	}
	if len(fields) == 0 {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: CREATE TABLE %s needs at least one column", s.GetRelation().GetRelname())
	}
	return &Statement{Kind: CreateTable, Table: s.GetRelation().GetRelname(), Schema: arrow.NewSchema(fields, nil), IfNotExists: s.GetIfNotExists(), OrReplace: replace}, nil
}

// insert binds INSERT INTO t [(cols)] <query>: the query's columns, by
// position, are cast to the types of the named columns (every column in
// order when none are named); the others are null.
func (c *compiler) insert(s *pg.InsertStmt) (*Statement, error) {
	if s.GetOnConflictClause() != nil || len(s.GetReturningList()) > 0 || s.GetWithClause() != nil {
		return nil, notSupported("ON CONFLICT, RETURNING and WITH in INSERT")
	}
	name := s.GetRelation().GetRelname()
	target, err := c.r.TableSchema(name)
	if err != nil {
		return nil, err
	}
	sel := s.GetSelectStmt().GetSelectStmt()
	if sel == nil {
		return nil, notSupported("INSERT ... DEFAULT VALUES")
	}
	in, err := c.query(sel)
	if err != nil {
		return nil, err
	}
	got, err := c.columns(in)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range s.GetCols() {
		names = append(names, t.GetResTarget().GetName())
	}
	if names == nil {
		for _, f := range target.Fields() {
			names = append(names, f.Name)
		}
	}
	if len(got) != len(names) {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: INSERT INTO %s gives %d values per row for %d columns (%s)", name, len(got), len(names), strings.Join(names, ", "))
	}
	from := map[string]int{}
	for i, n := range names {
		idx := target.FieldIndices(n)
		if len(idx) == 0 {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: table %s has no column %q%s", name, n, suggestion(n, schemaNames(target)))
		}
		if _, twice := from[n]; twice {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: INSERT INTO %s names column %q twice", name, n)
		}
		from[n] = i
	}
	exprs := make([]*pb.Expr, target.NumFields())
	for i, f := range target.Fields() {
		t, err := plan.ProtoType(f.Type)
		if err != nil {
			return nil, err
		}
		var e *pb.Expr
		if j, ok := from[f.Name]; ok {
			e = &pb.Expr{Kind: &pb.Expr_Cast{Cast: &pb.Cast{Expr: column(got[j]), To: t}}}
		} else {
			e = literal(&pb.Literal{Value: &pb.Literal_Null{Null: t}})
		}
		exprs[i] = alias_(e, f.Name)
	}
	return &Statement{Kind: Insert, Table: name, Input: selectNode(in, exprs), Columns: names}, nil
}

func schemaNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// copyTo binds COPY (query) TO 'path' (FORMAT parquet) and COPY t TO ...
func (c *compiler) copyTo(s *pg.CopyStmt) (*Statement, error) {
	if s.GetIsFrom() {
		return nil, notSupported("COPY ... FROM (read files with read_parquet / read_csv in a query, or upload)")
	}
	if s.GetIsProgram() || s.GetFilename() == "" {
		return nil, notSupported("COPY TO a program or to STDOUT (give a path under an allowed root)")
	}
	st := &Statement{Kind: CopyTo, Path: s.GetFilename(), Format: "parquet"}
	for _, o := range s.GetOptions() {
		d := o.GetDefElem()
		switch strings.ToLower(d.GetDefname()) {
		case "format":
			st.Format = strings.ToLower(d.GetArg().GetString_().GetSval() + d.GetArg().GetAConst().GetSval().GetSval())
			if st.Format != "parquet" {
				return nil, notSupported(fmt.Sprintf("COPY TO in format %q (parquet is)", st.Format))
			}
		default:
			return nil, notSupported(fmt.Sprintf("the COPY option %s (FORMAT parquet is supported)", d.GetDefname()))
		}
	}
	switch {
	case s.GetQuery() != nil:
		sel := s.GetQuery().GetSelectStmt()
		if sel == nil {
			return nil, notSupported("COPY of anything but a query or a table")
		}
		n, err := c.query(sel)
		if err != nil {
			return nil, err
		}
		st.Input = n
	default:
		if len(s.GetAttlist()) > 0 {
			return nil, notSupported("COPY t (columns) TO (use COPY (SELECT columns FROM t) TO)")
		}
		name := s.GetRelation().GetRelname()
		if _, err := c.r.TableSchema(name); err != nil {
			return nil, err
		}
		st.Input = &pb.Node{Kind: &pb.Node_TableScan{TableScan: &pb.TableScan{Table: name}}}
	}
	return st, nil
}

func (c *compiler) drop(d *pg.DropStmt) (*Statement, error) {
	if d.GetRemoveType() != pg.ObjectType_OBJECT_TABLE {
		return nil, notSupported("DROP of anything but a table")
	}
	if len(d.GetObjects()) != 1 {
		return nil, notSupported("DROP TABLE of several tables at once")
	}
	names := d.GetObjects()[0].GetList().GetItems()
	if len(names) == 0 {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: DROP TABLE needs a table name")
	}
	name := names[len(names)-1].GetString_().GetSval()
	return &Statement{Kind: DropTable, Table: name, IfExists: d.GetMissingOk()}, nil
}
