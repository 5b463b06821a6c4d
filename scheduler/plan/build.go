package plan

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/kernels/fsroot"
	"slipstream/scheduler/planpb"
)

// Resolver answers what Build must know of the world: the schemas of
// stored tables and of files.
type Resolver interface {
	// TableSchema is the schema of a stored table, or a NotFound error.
	TableSchema(name string) (*arrow.Schema, error)
	// FileSchema expands globs in paths and returns the matching files and
	// their common schema, or a NotFound / Invalid error.
	FileSchema(paths []string, format exec.Format, csv exec.CSVOptions) ([]string, *arrow.Schema, error)
	// FileRoots are the directories files may be read from (nil: anywhere).
	FileRoots() *fsroot.Roots
	// SQL compiles a query written in SQL into plan nodes (scheduler/sql).
	SQL(s *planpb.Sql) (*planpb.Node, error)
}

func invalidf(format string, args ...any) error {
	return kernels.Errorf(kernels.Invalid, format, args...)
}

// Build turns a protobuf query into a resolved, type-checked logical plan.
func Build(q *planpb.Query, r Resolver) (Node, error) {
	if q.GetRoot() == nil {
		return nil, invalidf("the query has no plan: Query.root is empty")
	}
	if err := checkShape(q); err != nil {
		return nil, err
	}
	b := &builder{r: r}
	return b.node(q.GetRoot())
}

type builder struct{ r Resolver }

func (b *builder) node(n *planpb.Node) (Node, error) {
	switch k := n.GetKind().(type) {
	case *planpb.Node_Values:
		return b.values(k.Values)
	case *planpb.Node_Sql:
		compiled, err := b.r.SQL(k.Sql)
		if err != nil {
			return nil, err
		}
		return b.node(compiled)
	case *planpb.Node_TableScan:
		name := k.TableScan.GetTable()
		s, err := b.r.TableSchema(name)
		if err != nil {
			return nil, err
		}
		return &Scan{Table: name, FileSchema: s}, nil
	case *planpb.Node_FileScan:
		fs := k.FileScan
		if len(fs.GetPaths()) == 0 {
			return nil, invalidf("a file scan needs at least one path")
		}
		format := map[planpb.FileFormat]exec.Format{planpb.FileFormat_PARQUET: exec.Parquet, planpb.FileFormat_CSV: exec.CSV, planpb.FileFormat_IPC: exec.IPC}[fs.GetFormat()]
		opts := exec.CSVOptions{NoHeader: fs.GetCsv().GetNoHeader()}
		if d := fs.GetCsv().GetDelimiter(); d != "" {
			if len([]rune(d)) != 1 {
				return nil, invalidf("CSV delimiter must be one character, got %q", d)
			}
			opts.Delimiter = []rune(d)[0]
		}
		files, s, err := b.r.FileSchema(fs.GetPaths(), format, opts)
		if err != nil {
			return nil, err
		}
		return &Scan{Files: files, Roots: b.r.FileRoots(), Format: format, CSV: opts, FileSchema: s}, nil
	case *planpb.Node_Select:
		in, err := b.child(k.Select.GetInput(), "select")
		if err != nil {
			return nil, err
		}
		pes, err := expandExprs(k.Select.GetExprs(), in.Schema())
		if err != nil {
			return nil, err
		}
		if scalarSelect(pes) {
			// polars: select(col("x").sum()) is one row of aggregates.
			return b.aggregateOn(in, nil, pes)
		}
		in, exprs, err := b.withWindows(pes, in)
		if err != nil {
			return nil, err
		}
		if err := uniqueNames(exprs, "select"); err != nil {
			return nil, err
		}
		return &Project{Input: in, Exprs: exprs}, nil
	case *planpb.Node_WithColumns:
		in, err := b.child(k.WithColumns.GetInput(), "with_columns")
		if err != nil {
			return nil, err
		}
		width := in.Schema().NumFields()
		pes, err := expandExprs(k.WithColumns.GetExprs(), in.Schema())
		if err != nil {
			return nil, err
		}
		in, added, err := b.withWindows(pes, in)
		if err != nil {
			return nil, err
		}
		if err := uniqueNames(added, "with_columns"); err != nil {
			return nil, err
		}
		out := make([]Expr, width)
		for i, f := range in.Schema().Fields()[:width] {
			out[i] = &ColumnRef{Index: i, Field: f}
		}
		for _, e := range added {
			if idx := in.Schema().FieldIndices(e.Name()); len(idx) > 0 && idx[0] < width {
				out[idx[0]] = e
			} else {
				out = append(out, e)
			}
		}
		return &Project{Input: in, Exprs: out}, nil
	case *planpb.Node_Filter:
		in, err := b.child(k.Filter.GetInput(), "filter")
		if err != nil {
			return nil, err
		}
		// A window or an aggregate in the predicate (polars:
		// filter(col("x") > col("x").mean())) is computed under the filter.
		width := in.Schema().NumFields()
		pes, err := expandExprs([]*planpb.Expr{k.Filter.GetPredicate()}, in.Schema())
		if err != nil {
			return nil, err
		}
		if len(pes) == 0 { // a selector of no columns: nothing to hold
			return in, nil
		}
		in, preds, err := b.withWindows(pes, in)
		if err != nil {
			return nil, err
		}
		pred := preds[0]
		for _, p := range preds[1:] { // a selector: every one must hold
			if pred, err = resolveCall(mustLookup("and"), []Expr{pred, p}); err != nil {
				return nil, err
			}
		}
		if t := pred.Type(); t.ID() != arrow.BOOL && !expr.IsNull(t) {
			return nil, invalidf("filter predicate %s is %s, expected boolean (a comparison such as col(\"x\") > 1)", pred, expr.TypeName(t))
		}
		return dropExtra(&Filter{Input: in, Predicate: pred}, width), nil
	case *planpb.Node_Aggregate:
		return b.aggregate(k.Aggregate)
	case *planpb.Node_Sort:
		in, err := b.child(k.Sort.GetInput(), "sort")
		if err != nil {
			return nil, err
		}
		if len(k.Sort.GetKeys()) == 0 {
			return nil, invalidf("sort needs at least one key")
		}
		width := in.Schema().NumFields()
		var keyExprs []*planpb.Expr
		var keys []*planpb.SortKey
		for _, key := range k.Sort.GetKeys() {
			es, err := expandExprs([]*planpb.Expr{key.GetExpr()}, in.Schema())
			if err != nil {
				return nil, err
			}
			for _, e := range es { // a selector sorts by each of its columns
				keyExprs = append(keyExprs, e)
				keys = append(keys, key)
			}
		}
		in, built, err := b.withWindows(keyExprs, in)
		if err != nil {
			return nil, err
		}
		s := &Sort{Input: in}
		for i, key := range keys {
			e := built[i]
			if !expr.IsOrderable(e.Type()) {
				return nil, invalidf("cannot sort by %s: %s values have no order", e, expr.TypeName(e.Type()))
			}
			if e, err = inEnumOrder(e); err != nil {
				return nil, err
			}
			s.Keys = append(s.Keys, SortKey{Expr: e, Descending: key.GetDescending(), NullsLast: key.GetNullsLast()})
		}
		return dropExtra(s, width), nil
	case *planpb.Node_Limit:
		in, err := b.child(k.Limit.GetInput(), "limit")
		if err != nil {
			return nil, err
		}
		if k.Limit.GetOffset() < 0 {
			return nil, invalidf("limit offset must be >= 0, got %d", k.Limit.GetOffset())
		}
		return &Limit{Input: in, Offset: k.Limit.GetOffset(), Count: k.Limit.GetCount()}, nil
	case *planpb.Node_Explode:
		in, err := b.child(k.Explode.GetInput(), "explode")
		if err != nil {
			return nil, err
		}
		if len(k.Explode.GetColumns()) == 0 {
			return nil, invalidf("explode needs at least one column")
		}
		schema := in.Schema()
		names := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			names[i] = f.Name
		}
		ex := &Explode{Input: in, EmptyAsNull: k.Explode.GetEmptyAsNull(), DropNulls: k.Explode.GetDropNulls()}
		for _, name := range k.Explode.GetColumns() {
			idx := schema.FieldIndices(name)
			if len(idx) == 0 {
				return nil, invalidf("explode: no column %q%s", name, suggest(name, names))
			}
			if t := schema.Field(idx[0]).Type; !expr.IsList(t) {
				return nil, invalidf("explode: column %q is %s, not a list (str.split or group_by().agg(col(...)) make lists)", name, expr.TypeName(t))
			}
			ex.Columns = append(ex.Columns, idx[0])
		}
		return ex, nil
	case *planpb.Node_Join:
		return b.join(k.Join)
	case *planpb.Node_Concat:
		return b.concat(k.Concat)
	case nil:
		return nil, invalidf("a plan node is empty: set one of table_scan, file_scan, select, with_columns, filter, aggregate, sort, limit, join")
	}
	return nil, invalidf("unknown plan node %T", n.GetKind())
}

func (b *builder) child(n *planpb.Node, what string) (Node, error) {
	if n == nil {
		return nil, invalidf("%s has no input", what)
	}
	return b.node(n)
}

func uniqueNames(exprs []Expr, what string) error {
	seen := map[string]bool{}
	for _, e := range exprs {
		if seen[e.Name()] {
			return invalidf("%s produces the column name %q twice; give one of them another name with .alias()", what, e.Name())
		}
		seen[e.Name()] = true
	}
	return nil
}

func (b *builder) aggregate(a *planpb.Aggregate) (Node, error) {
	in, err := b.child(a.GetInput(), "group_by")
	if err != nil {
		return nil, err
	}
	return b.aggregateOn(in, a.GetKeys(), a.GetAggs())
}

// aggregateOn builds an Aggregate of aggs by keys over in.
func (b *builder) aggregateOn(in Node, pkeys, paggs []*planpb.Expr) (Node, error) {
	pkeys, err := expandExprs(pkeys, in.Schema())
	if err != nil {
		return nil, err
	}
	paggs, err = expandExprs(paggs, in.Schema())
	if err != nil {
		return nil, err
	}
	keys, err := b.exprs(pkeys, in.Schema())
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := keyTypeOK("group by", k); err != nil {
			return nil, err
		}
	}
	out := &Aggregate{Input: in, Keys: keys}
	plain := true
	for _, pe := range paggs {
		plain = plain && isPlainAggregate(pe)
	}
	if plain {
		for _, pe := range paggs {
			name, inner := "", pe
			for inner.GetAlias() != nil {
				name, inner = inner.GetAlias().GetName(), inner.GetAlias().GetExpr()
			}
			agg, err := b.aggCall(inner.GetCall(), in.Schema())
			if err != nil {
				return nil, err
			}
			var e Expr = agg
			if name != "" {
				e = &Alias{Arg: agg, Alias: name}
			}
			out.Aggs = append(out.Aggs, e)
		}
		if err := uniqueNames(append(append([]Expr{}, out.Keys...), out.Aggs...), "group_by().agg()"); err != nil {
			return nil, err
		}
		if err := orderInput(out); err != nil {
			return nil, err
		}
		return out, nil
	}
	// Expressions over aggregates (col("a").sum() / len(), col("x").max() -
	// col("x").min()): the aggregate computes every aggregate call under a
	// hidden name, and a Project above it evaluates the expressions.
	post := make([]Expr, 0, len(keys)+len(paggs))
	for i, k := range keys {
		post = append(post, &ColumnRef{Index: i, Field: outField(k)})
	}
	for _, pe := range paggs {
		e, err := b.overAggregates(pe, in.Schema(), out)
		if err != nil {
			return nil, err
		}
		if !containsAggregate(pe) && rowwise(pe) {
			return nil, invalidf("agg() takes aggregations such as col(\"x\").sum() or expressions over them; %s aggregates nothing", e)
		}
		post = append(post, e)
	}
	if err := uniqueNames(post, "group_by().agg()"); err != nil {
		return nil, err
	}
	if err := orderInput(out); err != nil {
		return nil, err
	}
	return &Project{Input: out, Exprs: post}, nil
}

// containsOver reports whether a window expression occurs in e.
func containsOver(e *planpb.Expr) bool {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Over:
		return true
	case *planpb.Expr_Alias:
		return containsOver(k.Alias.GetExpr())
	case *planpb.Expr_Cast:
		return containsOver(k.Cast.GetExpr())
	case *planpb.Expr_Call:
		for _, a := range k.Call.GetArgs() {
			if containsOver(a) {
				return true
			}
		}
	}
	return false
}

// exprsWithWindows builds exprs over in; when some hold window expressions,
// it puts a Window over in, whose extra columns those expressions read, and
// returns it as the new input (the input's columns keep their indices).
func (b *builder) exprsWithWindows(pes []*planpb.Expr, in Node) (Node, []Expr, error) {
	windowed := false
	for _, pe := range pes {
		windowed = windowed || containsOver(pe)
	}
	if !windowed {
		exprs, err := b.exprs(pes, in.Schema())
		return in, exprs, err
	}
	w := &Window{Input: in}
	exprs := make([]Expr, len(pes))
	for i, pe := range pes {
		e, err := b.overWindows(pe, in.Schema(), w)
		if err != nil {
			return nil, nil, err
		}
		exprs[i] = e
	}
	return w, exprs, nil
}

// overWindows builds e, turning each Over into a column of w.
func (b *builder) overWindows(e *planpb.Expr, in *arrow.Schema, w *Window) (Expr, error) {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Over:
		we, err := b.window(k.Over, in)
		if err != nil {
			return nil, err
		}
		we.Name = fmt.Sprintf("__win%d", len(w.Exprs))
		w.Exprs = append(w.Exprs, we)
		name := we.Op().String()
		if we.Agg != nil {
			name = we.Agg.Name()
		} else if we.Arg != nil {
			name = we.Arg.Name()
		}
		f := windowField(we)
		f.Name = name
		return &ColumnRef{Index: in.NumFields() + len(w.Exprs) - 1, Field: f}, nil
	case *planpb.Expr_Alias:
		arg, err := b.overWindows(k.Alias.GetExpr(), in, w)
		if err != nil {
			return nil, err
		}
		return &Alias{Arg: arg, Alias: k.Alias.GetName()}, nil
	case *planpb.Expr_Cast:
		arg, err := b.overWindows(k.Cast.GetExpr(), in, w)
		if err != nil {
			return nil, err
		}
		to, err := DataType(k.Cast.GetTo())
		if err != nil {
			return nil, err
		}
		return castTo(arg, to), nil
	case *planpb.Expr_Call:
		if !containsOver(e) {
			return b.expr(e, in)
		}
		fn, ok := expr.Lookup(k.Call.GetFunction())
		if !ok || fn.Kind != expr.Scalar {
			return nil, invalidf("%s cannot take a window expression here", k.Call.GetFunction())
		}
		args := make([]Expr, len(k.Call.GetArgs()))
		for i, a := range k.Call.GetArgs() {
			arg, err := b.overWindows(a, in, w)
			if err != nil {
				return nil, err
			}
			args[i] = arg
		}
		return resolveCall(fn, args)
	}
	return b.expr(e, in)
}

// window builds one Over.
func (b *builder) window(o *planpb.Over, in *arrow.Schema) (*WindowExpr, error) {
	we := &WindowExpr{}
	for _, p := range o.GetPartitionBy() {
		e, err := b.expr(p, in)
		if err != nil {
			return nil, err
		}
		we.PartitionBy = append(we.PartitionBy, e)
	}
	for _, key := range o.GetOrderBy() {
		e, err := b.expr(key.GetExpr(), in)
		if err != nil {
			return nil, err
		}
		if !expr.IsOrderable(e.Type()) {
			return nil, invalidf("cannot order a window by %s: %s values have no order", e, expr.TypeName(e.Type()))
		}
		if e, err = inEnumOrder(e); err != nil {
			return nil, err
		}
		we.OrderBy = append(we.OrderBy, SortKey{Expr: e, Descending: key.GetDescending(), NullsLast: key.GetNullsLast()})
	}
	we.Peers = o.GetPeers()
	if we.Peers && len(we.OrderBy) == 0 {
		return nil, invalidf("a window over peers needs an order_by")
	}
	inner := o.GetExpr()
	for inner.GetAlias() != nil {
		inner = inner.GetAlias().GetExpr()
	}
	call := inner.GetCall()
	if call == nil {
		return nil, invalidf("over() applies to an aggregation (col(\"x\").sum()) or a window function (%s)", strings.Join(windowNames(false), ", "))
	}
	fn, ok := expr.Lookup(call.GetFunction())
	switch {
	case ok && fn.Kind == expr.Aggregate:
		agg, err := b.aggCall(call, in)
		if err != nil {
			return nil, err
		}
		we.Agg, we.Out = agg, agg.Out
		return we, nil
	case !ok || fn.Kind != expr.Window:
		return nil, invalidf("unknown window function %q%s", call.GetFunction(), suggest(call.GetFunction(), windowNames(false)))
	case we.Peers && fn.RunningOf == "":
		return nil, invalidf("only running aggregates (%s) group peers, not %s", strings.Join(windowNames(true), ", "), fn.Name)
	case fn.Op == expr.WinRolling || fn.Op == expr.WinRollingBy:
		return b.rolling(we, fn, call, in)
	}
	if !fn.AcceptsArgs(len(call.GetArgs())) {
		return nil, invalidf("%s takes %s, got %d", fn.Name, fn.ArityText(), len(call.GetArgs()))
	}
	var args []Expr
	for i, a := range call.GetArgs() {
		e, err := b.expr(a, in)
		if err != nil {
			return nil, err
		}
		if _, isConst := e.(*Literal); i > 0 && !isConst {
			return nil, invalidf("argument %d of %s must be a constant, got %s", i+1, fn.Name, e)
		}
		args = append(args, e)
	}
	types := make([]arrow.DataType, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	out, casts, err := fn.Resolve(types)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 {
		we.Arg = castTo(args[0], casts[0])
	}
	if err := we.decodeArgs(fn, args[min(1, len(args)):], casts[min(1, len(casts)):]); err != nil {
		return nil, err
	}
	we.Fn, we.Out = fn, out
	return we, nil
}

// decodeArgs casts the constant arguments of window function fn to the
// types its Resolve asked for and decodes them into we.Args.
func (we *WindowExpr) decodeArgs(fn *expr.Function, consts []Expr, types []arrow.DataType) error {
	if fn.DecodeArgs == nil {
		return nil
	}
	params := make([]scalar.Scalar, len(consts))
	for i, c := range consts {
		cast, ok := castTo(c, types[i]).(*Literal)
		if !ok {
			return invalidf("argument %d of %s: cannot use %s as %s", i+2, fn.Name, c, expr.TypeName(types[i]))
		}
		params[i] = cast.Value
	}
	args, err := fn.DecodeArgs(params)
	we.Args = args
	return err
}

// windowNames lists the registry's window functions (the running ones
// only, when running), for messages.
func windowNames(running bool) []string {
	var names []string
	for _, n := range expr.Names() {
		if fn, _ := expr.Lookup(n); fn.Kind == expr.Window && (!running || fn.RunningOf != "") {
			names = append(names, n)
		}
	}
	return names
}

// orderInput sorts agg's input by the order its sort_by aggregates ask
// for; every one of them must ask for the same order.
func orderInput(agg *Aggregate) error {
	var keys []SortKey
	text := ""
	for _, e := range agg.Aggs {
		call := Unalias(e).(*AggCall)
		if len(call.OrderBy) == 0 {
			continue
		}
		parts := make([]string, len(call.OrderBy))
		for i, k := range call.OrderBy {
			parts[i] = k.Expr.String()
			if k.Descending {
				parts[i] += " desc"
			}
			if k.NullsLast {
				parts[i] += " nulls_last"
			}
		}
		t := "[" + strings.Join(parts, ", ") + "]"
		if keys != nil && t != text {
			return invalidf("the aggregations of one agg() sort_by different keys (%s and %s); use one order", text, t)
		}
		keys, text = call.OrderBy, t
	}
	if keys != nil {
		agg.Input = &Sort{Input: agg.Input, Keys: keys}
	}
	return nil
}

// rolling builds rolling(agg, preceding, following, min_samples): the
// aggregate over the frame of rows around each row, as polars' rolling_*.
func (b *builder) rolling(we *WindowExpr, fn *expr.Function, call *planpb.Call, in *arrow.Schema) (*WindowExpr, error) {
	args := call.GetArgs()
	if len(args) != 4 || !isAggregateCall(args[0]) {
		return nil, invalidf("rolling takes an aggregation and three constants: rows before, rows after, the fewest values")
	}
	agg, err := b.aggCall(args[0].GetCall(), in)
	if err != nil {
		return nil, err
	}
	if agg.Filter != nil {
		return nil, invalidf("a rolling aggregation cannot filter its rows; filter the frame first")
	}
	frame, err := b.exprs(args[1:], in)
	if err != nil {
		return nil, err
	}
	types := make([]arrow.DataType, len(frame))
	for i, e := range frame {
		if _, ok := e.(*Literal); !ok {
			return nil, invalidf("%s: argument %d must be a constant, got %s", fn.Name, i+2, e)
		}
		types[i] = e.Type()
	}
	if fn.Op == expr.WinRollingBy {
		if frame[0], err = periodInKeyUnit(we, frame[0].(*Literal)); err != nil {
			return nil, err
		}
		types[0] = frame[0].Type()
	}
	if err := we.decodeArgs(fn, frame, types); err != nil {
		return nil, err
	}
	we.Fn, we.Agg, we.Out = fn, agg, agg.Out
	return we, nil
}

// periodInKeyUnit checks that a rolling_by window orders by one key,
// ascending, and gives its period (a duration, or an integer for an
// integer key) as an int64 in the key's unit: days for a date.
func periodInKeyUnit(we *WindowExpr, period *Literal) (Expr, error) {
	if len(we.OrderBy) != 1 || we.OrderBy[0].Descending {
		return nil, invalidf("rolling_by orders by one key (the by column), ascending")
	}
	key := we.OrderBy[0].Expr.Type()
	i64 := func(v int64) (Expr, error) {
		if v <= 0 {
			return nil, invalidf("rolling_by: the period must be positive, got %s", period)
		}
		return &Literal{Value: scalar.NewInt64Scalar(v)}, nil
	}
	d, isDuration := period.Value.(*scalar.Duration)
	var ns int64
	if isDuration {
		ns = int64(d.Value) * int64(d.Type.(*arrow.DurationType).Unit.Multiplier())
	}
	switch k := key.(type) {
	case *arrow.TimestampType, *arrow.Date32Type, *arrow.Date64Type:
		if !isDuration {
			return nil, invalidf("rolling_by over %s %s takes a duration such as '2d' or '30m', got %s", we.OrderBy[0].Expr, expr.TypeName(key), period)
		}
		unit := int64(24 * 60 * 60 * 1e9) // a date counts days
		switch k := k.(type) {
		case *arrow.TimestampType:
			unit = int64(k.Unit.Multiplier())
		case *arrow.Date64Type:
			unit = 1e6
		}
		if ns%unit != 0 {
			return nil, invalidf("rolling_by: the period %s is not a whole number of %s's unit (%s)", period, we.OrderBy[0].Expr, expr.TypeName(key))
		}
		return i64(ns / unit)
	}
	n, isInt := period.Value.(*scalar.Int64)
	if !expr.IsInteger(key) || !isInt {
		return nil, invalidf("rolling_by orders by a date, a timestamp or an integer (with an integer period such as '3i'), got %s %s and period %s",
			we.OrderBy[0].Expr, expr.TypeName(key), period)
	}
	return i64(n.Value)
}

// isPlainAggregate reports whether e is one aggregate call, maybe aliased.
func isPlainAggregate(e *planpb.Expr) bool {
	for e.GetAlias() != nil {
		e = e.GetAlias().GetExpr()
	}
	fn, ok := expr.Lookup(e.GetCall().GetFunction())
	return e.GetCall() != nil && ok && fn.Kind == expr.Aggregate
}

// containsAggregate reports whether an aggregate call occurs in e.
func containsAggregate(e *planpb.Expr) bool {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Alias:
		return containsAggregate(k.Alias.GetExpr())
	case *planpb.Expr_Cast:
		return containsAggregate(k.Cast.GetExpr())
	case *planpb.Expr_Call:
		if fn, ok := expr.Lookup(k.Call.GetFunction()); ok && fn.Kind == expr.Aggregate {
			return true
		}
		for _, a := range k.Call.GetArgs() {
			if containsAggregate(a) {
				return true
			}
		}
	}
	return false
}

// overAggregates builds e as an expression over agg's output: each
// aggregate call in e is added to agg.Aggs and read back as a column; a
// bare column must be a group key.
func (b *builder) overAggregates(e *planpb.Expr, in *arrow.Schema, agg *Aggregate) (Expr, error) {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Alias:
		arg, err := b.overAggregates(k.Alias.GetExpr(), in, agg)
		if err != nil {
			return nil, err
		}
		return &Alias{Arg: arg, Alias: k.Alias.GetName()}, nil
	case *planpb.Expr_Cast:
		arg, err := b.overAggregates(k.Cast.GetExpr(), in, agg)
		if err != nil {
			return nil, err
		}
		to, err := DataType(k.Cast.GetTo())
		if err != nil {
			return nil, err
		}
		return &Cast{Arg: arg, To: to}, nil
	case *planpb.Expr_Column:
		for i, key := range agg.Keys {
			if key.Name() == k.Column.GetName() {
				return &ColumnRef{Index: i, Field: outField(key)}, nil
			}
		}
		return nil, invalidf("column %q is neither aggregated nor a group key; aggregate it (col(%q).first(), .sum(), ...) or group by it", k.Column.GetName(), k.Column.GetName())
	case *planpb.Expr_Call:
		fn, ok := expr.Lookup(k.Call.GetFunction())
		if ok && fn.Kind == expr.Aggregate {
			call, err := b.aggCall(k.Call, in)
			if err != nil {
				return nil, err
			}
			idx := len(agg.Keys) + len(agg.Aggs)
			agg.Aggs = append(agg.Aggs, &Alias{Arg: call, Alias: fmt.Sprintf("__agg%d", len(agg.Aggs))})
			return &ColumnRef{Index: idx, Field: outField(call)}, nil
		}
		if !ok {
			return nil, invalidf("unknown function %q%s", k.Call.GetFunction(), suggest(k.Call.GetFunction(), expr.Names()))
		}
		args := make([]Expr, len(k.Call.GetArgs()))
		for i, a := range k.Call.GetArgs() {
			arg, err := b.overAggregates(a, in, agg)
			if err != nil {
				return nil, err
			}
			args[i] = arg
		}
		return resolveCall(fn, args)
	}
	return b.expr(e, in)
}

// aggCall builds one aggregate call over the input schema.
func (b *builder) aggCall(call *planpb.Call, in *arrow.Schema) (*AggCall, error) {
	fn, _ := expr.Lookup(call.GetFunction())
	if !fn.AcceptsArgs(len(call.GetArgs())) {
		return nil, invalidf("%s takes %s, got %d", fn.Name, fn.ArityText(), len(call.GetArgs()))
	}
	agg := &AggCall{Fn: fn}
	var argTypes []arrow.DataType
	var params []*Literal
	pargs := call.GetArgs()
	if len(pargs) > 0 && pargs[0].GetCall().GetFunction() == "sort_by" {
		// col("x").sort_by(keys).first(): first and last read the rows in
		// that order; the other aggregates do not care.
		s := pargs[0].GetCall().GetArgs()
		if len(s) < 4 || (len(s)-1)%3 != 0 {
			return nil, invalidf("sort_by takes an expression and (key, descending, nulls_last) triples")
		}
		for i := 1; i < len(s); i += 3 {
			if containsAggregate(s[i]) || containsOver(s[i]) {
				return nil, invalidf("a sort_by key of %s cannot hold an aggregation or a window", fn.Name)
			}
			k, err := b.expr(s[i], in)
			if err != nil {
				return nil, err
			}
			if !expr.IsOrderable(k.Type()) {
				return nil, invalidf("cannot sort by %s: %s values have no order", k, expr.TypeName(k.Type()))
			}
			flag := func(e *planpb.Expr) bool { return e.GetLiteral().GetBoolValue() }
			if k, err = inEnumOrder(k); err != nil {
				return nil, err
			}
			if fn.OrderSensitive {
				agg.OrderBy = append(agg.OrderBy, SortKey{Expr: k, Descending: flag(s[i+1]), NullsLast: flag(s[i+2])})
			}
		}
		pargs = append([]*planpb.Expr{s[0]}, pargs[1:]...)
	}
	if len(pargs) > 0 && pargs[0].GetCall().GetFunction() == "filter" {
		// col("x").filter(cond).agg(): aggregate the rows where cond holds.
		f := pargs[0].GetCall().GetArgs()
		if len(f) != 2 {
			return nil, invalidf("filter takes an expression and a condition")
		}
		if containsAggregate(f[1]) || containsOver(f[1]) {
			return nil, invalidf("the condition of %s's filter cannot hold an aggregation or a window", fn.Name)
		}
		cond, err := b.expr(f[1], in)
		if err != nil {
			return nil, err
		}
		if t := cond.Type(); t.ID() != arrow.BOOL {
			return nil, invalidf("filter condition %s is %s, expected boolean", cond, expr.TypeName(t))
		}
		agg.Filter = cond
		pargs = append([]*planpb.Expr{f[0]}, pargs[1:]...)
	}
	for i, pa := range pargs {
		if containsAggregate(pa) {
			return nil, invalidf("%s of an aggregation: aggregations do not nest", fn.Name)
		}
		arg, err := b.expr(pa, in)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			agg.Arg = arg
		} else if lit, ok := arg.(*Literal); ok {
			params = append(params, lit)
		} else {
			return nil, invalidf("argument %d of %s must be a constant, got %s", i+1, fn.Name, arg)
		}
		argTypes = append(argTypes, arg.Type())
	}
	if alt, ok := expr.DurationAggregate(fn, argTypes); ok { // mean of a duration: a duration
		fn, agg.Fn = alt, alt
	}
	if alt, cats, ok := enumAggregate(fn, agg.Arg); ok { // min/max of an enum: by its categories
		fn, agg.Fn, params, argTypes = alt, alt, []*Literal{cats}, []arrow.DataType{argTypes[0], cats.Value.DataType()}
	}
	outType, casts, err := fn.Resolve(argTypes)
	if err != nil {
		return nil, err
	}
	if agg.Arg != nil {
		agg.Arg = castTo(agg.Arg, casts[0])
	}
	for i, p := range params {
		cast, ok := castTo(p, casts[i+1]).(*Literal)
		if !ok {
			return nil, invalidf("argument %d of %s: cannot use %s as %s", i+2, fn.Name, p, expr.TypeName(casts[i+1]))
		}
		agg.Params = append(agg.Params, cast.Value)
	}
	if fn.CheckParams != nil {
		if err := fn.CheckParams(agg.Params); err != nil {
			return nil, err
		}
	}
	agg.Out = outType
	return agg, nil
}

// values types each column by its first cell that is not a bare null
// and casts the other cells to that type.
func (b *builder) values(v *planpb.Values) (Node, error) {
	if len(v.GetRows()) == 0 {
		return nil, invalidf("values needs at least one row")
	}
	names := v.GetNames()
	empty := arrow.NewSchema(nil, nil)
	rows := make([][]Expr, len(v.GetRows()))
	for i, r := range v.GetRows() {
		if len(r.GetCells()) != len(names) {
			return nil, invalidf("values: row %d has %d cells for %d columns", i+1, len(r.GetCells()), len(names))
		}
		cells, err := b.exprs(r.GetCells(), empty)
		if err != nil {
			return nil, err
		}
		rows[i] = cells
	}
	fields := make([]arrow.Field, len(names))
	for c, name := range names {
		var t arrow.DataType = arrow.Null // a column of nulls only
		first := 0
		for i, row := range rows {
			ct := row[c].Type()
			switch {
			case ct.ID() == arrow.NULL:
				continue
			case t.ID() == arrow.NULL:
				t, first = ct, i
				continue
			}
			common, err := expr.CommonComparable(t, ct)
			if err != nil {
				return nil, invalidf("values: column %q is %s in row %d and %s in row %d", name, expr.TypeName(t), first+1, expr.TypeName(ct), i+1)
			}
			t = common
		}
		fields[c] = arrow.Field{Name: name, Type: t, Nullable: true}
		for _, row := range rows {
			row[c] = castTo(row[c], t)
		}
	}
	return &Values{Rows: rows, Out: arrow.NewSchema(fields, nil)}, nil
}

func (b *builder) concat(c *planpb.Concat) (Node, error) {
	if len(c.GetInputs()) == 0 {
		return nil, invalidf("concat needs at least one input")
	}
	inputs := make([]Node, len(c.GetInputs()))
	for i, pn := range c.GetInputs() {
		n, err := b.node(pn)
		if err != nil {
			return nil, err
		}
		inputs[i] = n
	}
	first := inputs[0].Schema()
	types := make([]arrow.DataType, first.NumFields())
	for i, f := range first.Fields() {
		types[i] = f.Type
	}
	for k, n := range inputs[1:] {
		s := n.Schema()
		if s.NumFields() != first.NumFields() {
			return nil, invalidf("concat: input %d has %d columns, input 1 has %d", k+2, s.NumFields(), first.NumFields())
		}
		for i, f := range s.Fields() {
			if f.Name != first.Field(i).Name {
				return nil, invalidf("concat: column %d is %q in input %d but %q in input 1; select the columns in the same order", i+1, f.Name, k+2, first.Field(i).Name)
			}
			common, err := expr.CommonComparable(types[i], f.Type)
			if err != nil {
				return nil, invalidf("concat: column %q is %s in input 1 and %s in input %d", f.Name, expr.TypeName(types[i]), expr.TypeName(f.Type), k+2)
			}
			types[i] = common
		}
	}
	// Every input gets the same schema: cast where a type differs, and
	// make every field nullable so that batch schemas agree exactly.
	for k, n := range inputs {
		exprs := make([]Expr, len(types))
		for i, f := range n.Schema().Fields() {
			exprs[i] = castTo(&ColumnRef{Index: i, Field: f}, types[i])
		}
		inputs[k] = &Project{Input: n, Exprs: exprs}
	}
	return &Concat{Inputs: inputs}, nil
}

var joinTypes = map[planpb.Join_How]JoinType{
	planpb.Join_INNER: Inner, planpb.Join_LEFT: LeftJoin, planpb.Join_RIGHT: RightJoin, planpb.Join_FULL: FullJoin,
	planpb.Join_SEMI: Semi, planpb.Join_ANTI: Anti, planpb.Join_CROSS: Cross,
}

func (b *builder) join(j *planpb.Join) (Node, error) {
	left, err := b.child(j.GetLeft(), "join (left side)")
	if err != nil {
		return nil, err
	}
	right, err := b.child(j.GetRight(), "join (right side)")
	if err != nil {
		return nil, err
	}
	how, ok := joinTypes[j.GetHow()]
	if !ok {
		return nil, invalidf("unknown join type %v; expected inner, left, right, full, semi, anti or cross", j.GetHow())
	}
	out := &Join{Left: left, Right: right, How: how}
	if len(j.GetLeftOn()) != len(j.GetRightOn()) {
		return nil, invalidf("join has %d left keys and %d right keys; give as many of each", len(j.GetLeftOn()), len(j.GetRightOn()))
	}
	if how == Cross && len(j.GetLeftOn()) > 0 {
		return nil, invalidf("a cross join takes no keys")
	}
	if how != Cross && len(j.GetLeftOn()) == 0 {
		return nil, invalidf("a %s join needs keys: on=, or left_on= and right_on=", how)
	}
	for i := range j.GetLeftOn() {
		l, err := b.expr(j.GetLeftOn()[i], left.Schema())
		if err != nil {
			return nil, fmt.Errorf("join key on the left: %w", err)
		}
		r, err := b.expr(j.GetRightOn()[i], right.Schema())
		if err != nil {
			return nil, fmt.Errorf("join key on the right: %w", err)
		}
		for _, k := range []Expr{l, r} {
			if err := keyTypeOK("join on", k); err != nil {
				return nil, err
			}
		}
		common, err := expr.CommonComparable(l.Type(), r.Type())
		if err != nil {
			return nil, invalidf("join keys %s and %s cannot be compared: %s is %s, %s is %s", l, r, l, expr.TypeName(l.Type()), r, expr.TypeName(r.Type()))
		}
		out.LeftKeys = append(out.LeftKeys, castTo(l, common))
		out.RightKeys = append(out.RightKeys, castTo(r, common))
	}
	suffix := j.GetSuffix()
	if suffix == "" {
		suffix = "_right"
	}
	if j.GetFilter() != nil {
		// The condition sees both sides; right names that clash take the suffix.
		leftNames := map[string]bool{}
		var fields []arrow.Field
		for _, f := range left.Schema().Fields() {
			leftNames[f.Name] = true
			fields = append(fields, f)
		}
		for _, f := range right.Schema().Fields() {
			if leftNames[f.Name] {
				f.Name += suffix
			}
			fields = append(fields, f)
		}
		filter, err := b.expr(j.GetFilter(), arrow.NewSchema(fields, nil))
		if err != nil {
			return nil, fmt.Errorf("join filter: %w", err)
		}
		if filter.Type().ID() != arrow.BOOL {
			return nil, invalidf("join filter %s is %s, expected boolean", filter, expr.TypeName(filter.Type()))
		}
		out.Filter = filter
	}
	keyCols := func(keys []Expr) map[int]bool {
		m := map[int]bool{}
		for _, k := range keys {
			k = Unalias(k)
			if c, ok := k.(*Cast); ok {
				k = c.Arg // a key cast to the common type is still that column
			}
			if c, ok := k.(*ColumnRef); ok {
				m[c.Index] = true
			}
		}
		return m
	}
	names := map[string]bool{}
	add := func(right bool, i int, f arrow.Field) error {
		f.Nullable = true // outer joins fill either side with nulls
		if right && names[f.Name] {
			f.Name += suffix
		}
		if names[f.Name] {
			return invalidf("join output would have two columns named %q; choose another suffix", f.Name)
		}
		names[f.Name] = true
		out.Output = append(out.Output, JoinCol{Right: right, Index: i, Field: f})
		return nil
	}
	skipLeft, skipRight := map[int]bool{}, map[int]bool{}
	switch how {
	case Inner, LeftJoin:
		skipRight = keyCols(out.RightKeys)
	case RightJoin:
		skipLeft = keyCols(out.LeftKeys)
	}
	for i, f := range left.Schema().Fields() {
		if !skipLeft[i] {
			if err := add(false, i, f); err != nil {
				return nil, err
			}
		}
	}
	if how != Semi && how != Anti {
		for i, f := range right.Schema().Fields() {
			if !skipRight[i] {
				if err := add(true, i, f); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

func (b *builder) exprs(in []*planpb.Expr, s *arrow.Schema) ([]Expr, error) {
	out := make([]Expr, len(in))
	for i, pe := range in {
		e, err := b.expr(pe, s)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (b *builder) expr(e *planpb.Expr, s *arrow.Schema) (Expr, error) {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Column:
		return resolveColumn(k.Column.GetName(), s)
	case *planpb.Expr_Literal:
		return literal(k.Literal)
	case *planpb.Expr_Alias:
		if k.Alias.GetName() == "" {
			return nil, invalidf("alias needs a non-empty name")
		}
		arg, err := b.expr(k.Alias.GetExpr(), s)
		if err != nil {
			return nil, err
		}
		return &Alias{Arg: arg, Alias: k.Alias.GetName()}, nil
	case *planpb.Expr_Cast:
		arg, err := b.expr(k.Cast.GetExpr(), s)
		if err != nil {
			return nil, err
		}
		to, err := DataType(k.Cast.GetTo())
		if err != nil {
			return nil, err
		}
		if l, ok := arg.(*Literal); ok && !l.Value.IsValid() {
			return &Literal{Value: scalar.MakeNullScalar(to)}, nil
		}
		return &Cast{Arg: arg, To: to}, nil
	case *planpb.Expr_Call:
		return b.call(k.Call, s)
	case *planpb.Expr_Over:
		return nil, invalidf("a window expression (over, shift, diff, cum_*, rank, rolling_*, fill_null(strategy=)) cannot stand here: not inside an aggregation, a group key or a join key")
	case *planpb.Expr_Selector:
		return nil, invalidf("a selector of several columns (col(\"a\", \"b\"), all(), exclude(), a pattern or a type) cannot stand here; name one column")
	case *planpb.Expr_Rename:
		return nil, invalidf(".name.keep(), .prefix() and .suffix() apply in select, with_columns and agg")
	case nil:
		return nil, invalidf("an expression is empty: set one of column, literal, call, alias, cast")
	}
	return nil, invalidf("unknown expression %T", e.GetKind())
}

func (b *builder) call(c *planpb.Call, s *arrow.Schema) (Expr, error) {
	if c.GetFunction() == "filter" {
		return nil, invalidf("expr.filter(condition) is supported inside an aggregation, e.g. col(\"x\").filter(col(\"y\") > 0).sum(); to keep rows, use DataFrame.filter")
	}
	fn, ok := expr.Lookup(c.GetFunction())
	if !ok {
		return nil, invalidf("unknown function %q%s", c.GetFunction(), suggest(c.GetFunction(), expr.Names()))
	}
	if err := scalarOnly(fn); err != nil {
		return nil, err
	}
	args, err := b.exprs(c.GetArgs(), s)
	if err != nil {
		return nil, err
	}
	return resolveCall(fn, args)
}

// scalarOnly refuses an aggregate or window function where a scalar
// function must stand.
func scalarOnly(fn *expr.Function) error {
	switch fn.Kind {
	case expr.Aggregate:
		return invalidf("%s is an aggregation: use it inside group_by(...).agg(...)", fn.Name)
	case expr.Window:
		return invalidf("%s is a window function: use it inside over(...)", fn.Name)
	}
	return nil
}

// resolveCall type-checks a scalar call on built arguments and inserts the
// casts it needs.
func resolveCall(fn *expr.Function, args []Expr) (Expr, error) {
	if err := scalarOnly(fn); err != nil {
		return nil, err
	}
	if !fn.AcceptsArgs(len(args)) {
		return nil, invalidf("%s takes %s, got %d", fn.Name, fn.ArityText(), len(args))
	}
	args, err := enumComparison(fn, args) // an enum compares by its categories
	if err != nil {
		return nil, err
	}
	if len(args) >= 2 {
		// Untyped literals take the type of the first typed argument they
		// meet: col("i32") + 1, is_in(col("i8"), 1, 2), coalesce(col("f32"), 0).
		for i := range args {
			for j := range args {
				if i != j {
					if adopted := adoptType(args[i], args[j]); adopted != args[i] {
						args[i] = adopted
						break
					}
				}
			}
		}
	}
	types := make([]arrow.DataType, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	consts := make([]scalar.Scalar, len(args))
	for i, a := range args {
		if l, ok := a.(*Literal); ok {
			consts[i] = l.Value
		}
	}
	out, casts, err := fn.ResolveWith(types, consts)
	if err != nil {
		return nil, fmt.Errorf("in %s: %w", (&Call{Fn: fn, Args: args}).String(), err)
	}
	for i := range args {
		args[i] = castTo(args[i], casts[i])
	}
	return &Call{Fn: fn, Args: args, Out: out}, nil
}

// castTo wraps e in a cast to t unless it already has that type. Literals
// are cast now, once, rather than on every batch.
func castTo(e Expr, t arrow.DataType) Expr {
	if t == nil || arrow.TypeEqual(e.Type(), t) {
		return e
	}
	if l, ok := e.(*Literal); ok {
		if v, err := castScalar(l.Value, t); err == nil {
			return &Literal{Value: v}
		}
	}
	return &Cast{Arg: e, To: t}
}

// adoptType gives an untyped numeric literal (or an untyped null) the type
// of the expression it meets, when its value fits, as polars does:
// col("i32") + 1 stays int32.
func adoptType(e, other Expr) Expr {
	l, ok := e.(*Literal)
	if !ok {
		return e
	}
	t := other.Type()
	if !l.Value.IsValid() && expr.IsNull(l.Type()) && !expr.IsNull(t) {
		return &Literal{Value: scalar.MakeNullScalar(t)}
	}
	if !l.Untyped || !expr.IsNumeric(t) {
		return e
	}
	if _, isOtherLit := other.(*Literal); isOtherLit {
		return e
	}
	switch v := l.Value.(type) {
	case *scalar.Int64:
		if expr.IsInteger(t) && !intFits(v.Value, t) {
			return e
		}
	case *scalar.Float64:
		if t.ID() == arrow.DECIMAL128 {
			// 0.0001 meeting decimal(15,2) is decimal(1,4), as in SQL: the
			// arithmetic then picks the scale, and no digit is lost.
			if d, ok := exactDecimal(v.Value); ok {
				return &Literal{Value: d}
			}
			return e
		}
		if !expr.IsFloat(t) {
			return e // 1.5 meeting an integer column: compare as float
		}
	}
	cast, err := castScalar(l.Value, t)
	if err != nil {
		return e
	}
	return &Literal{Value: cast}
}

// exactDecimal is the decimal a float literal was written as: its shortest
// decimal form, when that has at most 38 digits.
func exactDecimal(f float64) (scalar.Scalar, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	text := strconv.FormatFloat(f, 'f', -1, 64)
	scale := 0
	if i := strings.IndexByte(text, '.'); i >= 0 {
		scale = len(text) - i - 1
	}
	n, ok := new(big.Int).SetString(strings.Replace(text, ".", "", 1), 10)
	if !ok {
		return nil, false
	}
	digits := len(strings.TrimLeft(n.String(), "-"))
	precision := max(digits, scale, 1)
	if precision > 38 {
		return nil, false
	}
	t := &arrow.Decimal128Type{Precision: int32(precision), Scale: int32(scale)}
	return scalar.NewDecimal128Scalar(decimal128.FromBigInt(n), t), true
}

// castScalar casts a constant with Arrow's array cast kernels, the same
// ones a column would go through (scalar.CastTo ignores a decimal's scale).
func castScalar(v scalar.Scalar, t arrow.DataType) (scalar.Scalar, error) {
	if !v.IsValid() {
		return scalar.MakeNullScalar(t), nil
	}
	if d, ok := t.(*arrow.Decimal128Type); ok {
		// Arrow's int64 -> decimal cast wants precision >= 21 for any
		// value; a constant only needs its own digits to fit.
		var n decimal128.Num
		switch x := v.(type) {
		case *scalar.Int64:
			n = decimal128.FromI64(x.Value).IncreaseScaleBy(d.Scale)
		case *scalar.Float64:
			var err error
			if n, err = decimal128.FromFloat64(x.Value, d.Precision, d.Scale); err != nil {
				return nil, err
			}
		}
		if v.DataType().ID() == arrow.INT64 || v.DataType().ID() == arrow.FLOAT64 {
			if !n.FitsInPrecision(d.Precision) {
				return nil, invalidf("%s does not fit in %s", v, expr.TypeName(d))
			}
			return scalar.NewDecimal128Scalar(n, d), nil
		}
	}
	arr, err := scalar.MakeArrayFromScalar(v, 1, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	out, err := compute.CastArray(context.Background(), arr, compute.SafeCastOptions(t))
	if err != nil {
		return nil, err
	}
	defer out.Release()
	return scalar.GetScalar(out, 0)
}

var intRanges = map[arrow.Type][2]float64{
	arrow.INT8: {math.MinInt8, math.MaxInt8}, arrow.INT16: {math.MinInt16, math.MaxInt16},
	arrow.INT32: {math.MinInt32, math.MaxInt32}, arrow.INT64: {math.MinInt64, math.MaxInt64},
	arrow.UINT8: {0, math.MaxUint8}, arrow.UINT16: {0, math.MaxUint16},
	arrow.UINT32: {0, math.MaxUint32}, arrow.UINT64: {0, math.MaxUint64},
}

func intFits(v int64, t arrow.DataType) bool {
	r := intRanges[t.ID()]
	return float64(v) >= r[0] && float64(v) <= r[1]
}

func resolveColumn(name string, s *arrow.Schema) (Expr, error) {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		names := make([]string, s.NumFields())
		for i, f := range s.Fields() {
			names[i] = f.Name
		}
		return nil, invalidf("unknown column %q%s; the input has: %s", name, suggest(name, names), strings.Join(names, ", "))
	}
	return &ColumnRef{Index: idx[0], Field: s.Field(idx[0])}, nil
}

// suggest names the closest candidate, when one is close enough to be a typo.
func suggest(name string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len([]rune(name))/2) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func literal(l *planpb.Literal) (Expr, error) {
	switch v := l.GetValue().(type) {
	case *planpb.Literal_Null:
		if v.Null.GetKind() == planpb.DataType_UNSPECIFIED {
			return &Literal{Value: scalar.MakeNullScalar(arrow.Null)}, nil
		}
		t, err := DataType(v.Null)
		if err != nil {
			return nil, err
		}
		return &Literal{Value: scalar.MakeNullScalar(t)}, nil
	case *planpb.Literal_BoolValue:
		return &Literal{Value: scalar.NewBooleanScalar(v.BoolValue)}, nil
	case *planpb.Literal_IntValue:
		return &Literal{Value: scalar.NewInt64Scalar(v.IntValue), Untyped: true}, nil
	case *planpb.Literal_UintValue:
		return &Literal{Value: scalar.NewUint64Scalar(v.UintValue), Untyped: true}, nil
	case *planpb.Literal_FloatValue:
		return &Literal{Value: scalar.NewFloat64Scalar(v.FloatValue), Untyped: true}, nil
	case *planpb.Literal_StringValue:
		return &Literal{Value: scalar.NewStringScalar(v.StringValue)}, nil
	case *planpb.Literal_DateValue:
		return &Literal{Value: scalar.NewDate32Scalar(arrow.Date32(v.DateValue))}, nil
	case *planpb.Literal_TimestampValue:
		ts := v.TimestampValue
		t := &arrow.TimestampType{Unit: arrow.TimeUnit(ts.GetUnit()), TimeZone: ts.GetTimezone()}
		return &Literal{Value: scalar.NewTimestampScalar(arrow.Timestamp(ts.GetValue()), t)}, nil
	case *planpb.Literal_DurationValue:
		t := &arrow.DurationType{Unit: arrow.TimeUnit(v.DurationValue.GetUnit())}
		return &Literal{Value: scalar.NewDurationScalar(arrow.Duration(v.DurationValue.GetValue()), t)}, nil
	case *planpb.Literal_TimeValue:
		if v.TimeValue < 0 || v.TimeValue >= 86_400_000_000_000 {
			return nil, invalidf("time literal %d is not a time of day: nanoseconds since midnight must be 0..86399999999999", v.TimeValue)
		}
		return &Literal{Value: scalar.NewTime64Scalar(arrow.Time64(v.TimeValue), &arrow.Time64Type{Unit: arrow.Nanosecond})}, nil
	case *planpb.Literal_BinaryValue:
		return &Literal{Value: scalar.NewBinaryScalar(memory.NewBufferBytes(v.BinaryValue), arrow.BinaryTypes.Binary)}, nil
	case *planpb.Literal_DecimalValue:
		d := v.DecimalValue
		n, ok := new(big.Int).SetString(d.GetUnscaled(), 10)
		if !ok {
			return nil, invalidf("decimal literal %q is not an integer string of the unscaled value", d.GetUnscaled())
		}
		t := &arrow.Decimal128Type{Precision: d.GetPrecision(), Scale: d.GetScale()}
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return nil, invalidf("decimal literal: decimal128(%d, %d) is not valid: precision must be 1..38 and scale 0..precision", t.Precision, t.Scale)
		}
		num := decimal128.FromBigInt(n)
		if !num.FitsInPrecision(t.Precision) {
			return nil, invalidf("decimal literal %s does not fit in precision %d", d.GetUnscaled(), t.Precision)
		}
		return &Literal{Value: scalar.NewDecimal128Scalar(num, t)}, nil
	}
	return nil, invalidf("a literal has no value")
}

// DataType converts a protobuf type to Arrow's.
func DataType(t *planpb.DataType) (arrow.DataType, error) {
	switch t.GetKind() {
	case planpb.DataType_BOOL:
		return arrow.FixedWidthTypes.Boolean, nil
	case planpb.DataType_INT8:
		return arrow.PrimitiveTypes.Int8, nil
	case planpb.DataType_INT16:
		return arrow.PrimitiveTypes.Int16, nil
	case planpb.DataType_INT32:
		return arrow.PrimitiveTypes.Int32, nil
	case planpb.DataType_INT64:
		return arrow.PrimitiveTypes.Int64, nil
	case planpb.DataType_UINT8:
		return arrow.PrimitiveTypes.Uint8, nil
	case planpb.DataType_UINT16:
		return arrow.PrimitiveTypes.Uint16, nil
	case planpb.DataType_UINT32:
		return arrow.PrimitiveTypes.Uint32, nil
	case planpb.DataType_UINT64:
		return arrow.PrimitiveTypes.Uint64, nil
	case planpb.DataType_FLOAT32:
		return arrow.PrimitiveTypes.Float32, nil
	case planpb.DataType_FLOAT64:
		return arrow.PrimitiveTypes.Float64, nil
	case planpb.DataType_UTF8:
		return arrow.BinaryTypes.String, nil
	case planpb.DataType_LARGE_UTF8, planpb.DataType_STRING_VIEW:
		return arrow.BinaryTypes.LargeString, nil
	case planpb.DataType_DATE32:
		return arrow.FixedWidthTypes.Date32, nil
	case planpb.DataType_TIMESTAMP:
		return &arrow.TimestampType{Unit: arrow.TimeUnit(t.GetUnit()), TimeZone: t.GetTimezone()}, nil
	case planpb.DataType_DURATION:
		return &arrow.DurationType{Unit: arrow.TimeUnit(t.GetUnit())}, nil
	case planpb.DataType_TIME64:
		if t.GetUnit() != planpb.DataType_MICROSECOND && t.GetUnit() != planpb.DataType_NANOSECOND {
			return nil, invalidf("time64 needs the unit us or ns, got %v", t.GetUnit())
		}
		return &arrow.Time64Type{Unit: arrow.TimeUnit(t.GetUnit())}, nil
	case planpb.DataType_BINARY:
		return arrow.BinaryTypes.Binary, nil
	case planpb.DataType_LARGE_BINARY:
		return arrow.BinaryTypes.LargeBinary, nil
	case planpb.DataType_DECIMAL128:
		d := &arrow.Decimal128Type{Precision: t.GetPrecision(), Scale: t.GetScale()}
		if d.Precision < 1 || d.Precision > 38 || d.Scale < 0 || d.Scale > d.Precision {
			return nil, invalidf("decimal128(%d, %d) is not a valid type: precision must be 1..38 and scale 0..precision", t.GetPrecision(), t.GetScale())
		}
		return d, nil
	}
	kinds := make([]string, 0, len(planpb.DataType_Kind_name))
	for _, n := range planpb.DataType_Kind_name {
		if n != "UNSPECIFIED" {
			kinds = append(kinds, strings.ToLower(n))
		}
	}
	sort.Strings(kinds)
	return nil, invalidf("unknown data type %v; expected one of %s", t.GetKind(), strings.Join(kinds, ", "))
}

// ProtoType is DataType's inverse: the plan's name for an Arrow type, or
// NotSupported for a type plans cannot name.
func ProtoType(t arrow.DataType) (*planpb.DataType, error) {
	kinds := map[arrow.Type]planpb.DataType_Kind{
		arrow.BOOL: planpb.DataType_BOOL, arrow.INT8: planpb.DataType_INT8, arrow.INT16: planpb.DataType_INT16,
		arrow.INT32: planpb.DataType_INT32, arrow.INT64: planpb.DataType_INT64, arrow.UINT8: planpb.DataType_UINT8,
		arrow.UINT16: planpb.DataType_UINT16, arrow.UINT32: planpb.DataType_UINT32, arrow.UINT64: planpb.DataType_UINT64,
		arrow.FLOAT32: planpb.DataType_FLOAT32, arrow.FLOAT64: planpb.DataType_FLOAT64, arrow.STRING: planpb.DataType_UTF8,
		arrow.LARGE_STRING: planpb.DataType_LARGE_UTF8, arrow.STRING_VIEW: planpb.DataType_STRING_VIEW,
		arrow.DATE32: planpb.DataType_DATE32, arrow.BINARY: planpb.DataType_BINARY,
		arrow.LARGE_BINARY: planpb.DataType_LARGE_BINARY, arrow.BINARY_VIEW: planpb.DataType_LARGE_BINARY,
	}
	if k, ok := kinds[t.ID()]; ok {
		return &planpb.DataType{Kind: k}, nil
	}
	switch t := t.(type) {
	case *arrow.TimestampType:
		return &planpb.DataType{Kind: planpb.DataType_TIMESTAMP, Unit: planpb.DataType_TimeUnit(t.Unit), Timezone: t.TimeZone}, nil
	case *arrow.Decimal128Type:
		return &planpb.DataType{Kind: planpb.DataType_DECIMAL128, Precision: t.Precision, Scale: t.Scale}, nil
	case *arrow.DurationType:
		return &planpb.DataType{Kind: planpb.DataType_DURATION, Unit: planpb.DataType_TimeUnit(t.Unit)}, nil
	case *arrow.Time64Type:
		return &planpb.DataType{Kind: planpb.DataType_TIME64, Unit: planpb.DataType_TimeUnit(t.Unit)}, nil
	}
	return nil, kernels.Errorf(kernels.NotSupported, "the type %s cannot be named in a plan yet", t)
}

// keyTypeOK refuses a list or struct as a group or join key, saying what
// would work instead.
func keyTypeOK(what string, k Expr) error {
	switch t := k.Type(); {
	case expr.IsList(t):
		return kernels.Errorf(kernels.NotSupported, "cannot %s %s: it is a list (%s); explode it first, or use a key made from it (list.join, list.len)", what, k, expr.TypeName(t))
	case expr.IsStruct(t):
		return kernels.Errorf(kernels.NotSupported, "cannot %s %s: it is a struct (%s); use its fields (struct.field(...) or unnest)", what, k, expr.TypeName(t))
	}
	return nil
}
