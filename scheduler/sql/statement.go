package sql

import (
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
)

func (k Kind) String() string {
	return [...]string{"a query", "CREATE TABLE", "CREATE TABLE AS", "INSERT", "DROP TABLE", "COPY TO"}[k]
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
	tree, err := pg.Parse(groupByAll.ReplaceAllString(text, `$1"*"$2`))
	if err != nil || len(tree.GetStmts()) != 1 {
		return true
	}
	stmt := tree.GetStmts()[0].GetStmt()
	return stmt.GetSelectStmt() != nil || stmt.GetExplainStmt() != nil
}

// Parse parses and binds one statement of any kind; tables and r are as
// for Compile.
func Parse(text string, tables map[string]*pb.Node, r plan.Resolver) (*Statement, error) {
	tree, err := pg.Parse(groupByAll.ReplaceAllString(text, `$1"*"$2`))
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
		return nil, notSupported("EXPLAIN in SQL text (use the query's explain())")
	case stmt.GetDropStmt() != nil:
		return c.drop(stmt.GetDropStmt())
	}
	return nil, notSupported(statementName(stmt) + " statements")
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
