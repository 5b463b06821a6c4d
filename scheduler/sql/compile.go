// Package sql compiles SQL text into the logical plan the DataFrame API
// builds (planpb nodes), so that everything the optimizer, the cluster and
// the kernels do applies to SQL unchanged. It has no execution of its own.
//
// The text is parsed by PostgreSQL's own grammar (pg_query_go, which links
// libpg_query): the dialect DuckDB and DataFusion users write. The binder
// here resolves names against the tables' schemas and turns the parse tree
// into nodes; what it does not support yet is refused with NotSupported
// naming the feature.
package sql

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"slipstream/kernels"
	"slipstream/scheduler/plan"
	pb "slipstream/scheduler/planpb"
)

// Compile turns one SQL query into a plan node. tables are further inputs
// the query may read by name (they hide stored tables of that name); r
// gives the schemas of stored tables and files.
func Compile(text string, tables map[string]*pb.Node, r plan.Resolver) (*pb.Node, error) {
	st, err := Parse(text, tables, r)
	if err != nil {
		return nil, err
	}
	if st.Kind != Query {
		return nil, st.NotAQuery()
	}
	return st.Input, nil
}

// NotAQuery is the error for a statement given where a query must be.
func (st *Statement) NotAQuery() error {
	if st.Kind == Explain {
		return kernels.Errorf(kernels.Invalid, "SQL: EXPLAIN cannot be a query's input; run it on its own")
	}
	return kernels.Errorf(kernels.Invalid, "SQL: %s changes tables and returns no rows; run it on its own (cl.sql runs it at once; Flight SQL clients use ExecuteUpdate), not as a query's input", st.Kind)
}

func notSupported(what string) error {
	return kernels.Errorf(kernels.NotSupported, "SQL: %s are not supported yet", what)
}

// groupByAll finds DuckDB's GROUP BY ALL, which Postgres' grammar reads
// as a quantifier wanting a list. It becomes GROUP BY "*", a name of the
// same length (error positions stay true) that no column has.
var groupByAll = regexp.MustCompile(`(?i)(\bgroup\s+by\s+)all\b(\s*(?:order|having|limit|offset|union|intersect|except|window|\)|;|$))`)

// statementName names a statement kind for an error: "CreateStmt" gives
// "CREATE".
func statementName(n *pg.Node) string {
	s := fmt.Sprintf("%T", n.GetNode())
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	s = strings.TrimSuffix(s, "Stmt")
	return strings.ToUpper(s)
}

// syntaxError shows where the parser stopped: line, column and a caret
// under the token.
func syntaxError(text string, err error) error {
	var pe *parser.Error
	runes := []rune(text)
	if !errors.As(err, &pe) || pe.Cursorpos <= 0 || pe.Cursorpos > len(runes)+1 {
		return kernels.Errorf(kernels.Invalid, "SQL syntax error: %v", err)
	}
	pos := len(string(runes[:pe.Cursorpos-1])) // Postgres counts characters from 1
	start := strings.LastIndexByte(text[:pos], '\n') + 1
	end := strings.IndexByte(text[start:], '\n')
	if end < 0 {
		end = len(text) - start
	}
	line := strings.Count(text[:start], "\n") + 1
	col := len([]rune(text[start:pos]))
	return kernels.Errorf(kernels.Invalid, "SQL syntax error at line %d, column %d: %s\n  %s\n  %s^",
		line, col+1, pe.Message, text[start:start+end], strings.Repeat(" ", col))
}

// compiler compiles one query and the subqueries in it.
type compiler struct {
	text string
	r    plan.Resolver
	ctes map[string]*pb.Node // WITH names and given tables, lower case
	// hidden counts the hidden columns of joins and subqueries, to name
	// them apart.
	hidden int
	// aliases are the relation prefixes used in the query, lower case.
	aliases map[string]bool
	// sublinks names the column that holds a scalar subquery's value,
	// once the subquery is joined in (subquery.go).
	sublinks map[*pg.SubLink]string
}
