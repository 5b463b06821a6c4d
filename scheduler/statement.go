package scheduler

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
	"slipstream/scheduler/sql"
)

// ExecSQL runs one SQL statement that changes tables (DDL or DML: CREATE
// TABLE [AS], INSERT, DROP TABLE, COPY TO) and returns the rows it wrote
// (0 for DDL). A query that returns rows is refused: run it as a query.
func (e *Engine) ExecSQL(ctx context.Context, text string) (int64, error) {
	return e.ExecSQLID(ctx, "", text)
}

// ExecSQLID is ExecSQL whose query, if it runs one, has the id id (""
// makes one): Cancel(id) stops it.
func (e *Engine) ExecSQLID(ctx context.Context, id, text string) (int64, error) {
	e.init()
	st, err := sql.Parse(text, nil, e)
	if err != nil {
		return 0, err
	}
	q := &planpb.Query{Root: st.Input}
	switch st.Kind {
	case sql.Query:
		return 0, kernels.Errorf(kernels.Invalid, "SQL: this statement is a query; run it as a query to read its rows")
	case sql.DropTable:
		dropped, err := e.Drop(ctx, st.Table)
		if err != nil {
			return 0, err
		}
		if !dropped && !st.IfExists {
			_, err := e.Catalog.Table(st.Table) // NotFound, naming the closest table
			return 0, err
		}
		return 0, nil
	case sql.CreateTable, sql.CreateTableAs:
		mode, skip := e.createMode(st)
		if skip {
			return 0, nil
		}
		if mode == catalog.Create && e.Catalog.Current(st.Table) != nil {
			return 0, kernels.Errorf(kernels.AlreadyExists, "table %q already exists; CREATE OR REPLACE TABLE replaces it, CREATE TABLE IF NOT EXISTS leaves it as it is", st.Table)
		}
		if st.Kind == sql.CreateTable {
			_, _, err := e.Store(ctx, st.Table, mode, st.Schema, func() (arrow.RecordBatch, error) { return nil, nil })
			return 0, err
		}
		n, _, err := e.WriteTable(ctx, id, st.Table, mode, q)
		return n, err
	case sql.Insert:
		n, _, err := e.WriteTable(ctx, id, st.Table, catalog.Append, q)
		return n, err
	case sql.CopyTo:
		return e.WriteFiles(ctx, id, st.Path, q)
	}
	return 0, kernels.Errorf(kernels.NotSupported, "SQL: %s is not supported yet", st.Kind)
}

// createMode is the upload mode of a CREATE TABLE; skip says the table
// exists and IF NOT EXISTS leaves it be.
func (e *Engine) createMode(st *sql.Statement) (mode catalog.Mode, skip bool) {
	switch {
	case st.OrReplace:
		return catalog.Replace, false
	case st.IfNotExists && e.Catalog.Current(st.Table) != nil:
		return catalog.Create, true
	}
	return catalog.Create, false
}
