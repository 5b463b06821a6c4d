package scheduler

import (
	"context"

	"slipstream/kernels"
	"slipstream/scheduler/sql"
)

// ExecSQL runs one SQL statement that changes tables (DDL or DML: CREATE
// TABLE [AS], INSERT, DROP TABLE, COPY TO) and returns the rows it wrote
// (0 for DDL). A query that returns rows is refused: run it as a query.
func (e *Engine) ExecSQL(ctx context.Context, text string) (int64, error) {
	e.init()
	st, err := sql.Parse(text, nil, e)
	if err != nil {
		return 0, err
	}
	switch st.Kind {
	case sql.Query:
		return 0, kernels.Errorf(kernels.Invalid, "SQL: this statement is a query; run it as a query to read its rows")
	case sql.DropTable:
		dropped, err := e.Drop(ctx, st.Table)
		if err != nil {
			return 0, err
		}
		if !dropped && !st.IfExists {
			return 0, kernels.Errorf(kernels.NotFound, "DROP TABLE: table %q does not exist (DROP TABLE IF EXISTS ignores a missing table)", st.Table)
		}
		return 0, nil
	}
	return 0, kernels.Errorf(kernels.NotSupported, "SQL: %s is not supported yet", st.Kind)
}
