package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/kernels/expr"
	pb "slipstream/scheduler/planpb"
)

// exprCompiler compiles expressions over a scope.
type exprCompiler struct {
	c            *compiler
	sc           *scope
	sawAggregate bool
	// correlated: the expression names a column of an enclosing query.
	correlated bool
}

// aggregates maps SQL's aggregate functions to the registry's.
var aggregates = map[string]string{
	"sum": "sum", "min": "min", "max": "max", "avg": "mean", "mean": "mean", "count": "count",
	"median": "median", "stddev": "std", "stddev_samp": "std", "variance": "var", "var_samp": "var",
	"first": "first", "last": "last", "any_value": "first",
}

// scalars maps SQL's scalar functions to the registry's, where only the
// name differs.
var scalars = map[string]string{
	"abs": "abs", "ceil": "ceil", "ceiling": "ceil", "floor": "floor", "round": "round", "sqrt": "sqrt",
	"exp": "exp", "ln": "ln", "power": "power", "pow": "power", "lower": "lower", "upper": "upper",
	"length": "len_chars", "char_length": "len_chars", "character_length": "len_chars", "octet_length": "len_bytes",
	"coalesce": "coalesce", "starts_with": "starts_with", "ends_with": "ends_with", "contains": "contains",
	"trim": "strip_chars", "btrim": "strip_chars", "replace": "replace_all",
	"regexp_matches": "regexp_matches", "regexp_replace": "regexp_replace", "year": "year", "month": "month",
	"day": "day", "hour": "hour", "minute": "minute", "second": "second",
	"sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
	"sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh",
	"cbrt": "cbrt", "degrees": "degrees", "radians": "radians",
	"isnan": "is_nan", "isfinite": "is_finite", "isinf": "is_infinite", "strftime": "strftime",
}

func (x *exprCompiler) list(ns []*pg.Node) ([]*pb.Expr, error) {
	out := make([]*pb.Expr, len(ns))
	for i, n := range ns {
		e, err := x.expr(n)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// exprOrOutput compiles n, where a bare name that is not a column of the
// scope may name an output of the SELECT list (ORDER BY total, GROUP BY
// an alias).
func (x *exprCompiler) exprOrOutput(n *pg.Node, outs []output) (*pb.Expr, error) {
	if ref := n.GetColumnRef(); ref != nil && len(ref.GetFields()) == 1 {
		name := ref.GetFields()[0].GetString_().GetSval()
		for _, o := range outs {
			if o.name == name {
				if _, err := x.sc.resolve([]string{name}); err != nil || !isColumnNamed(o.expr, name) {
					return unalias(o.expr), nil
				}
			}
		}
	}
	return x.expr(n)
}

func isColumnNamed(e *pb.Expr, name string) bool {
	col := unalias(e).GetColumn()
	return col != nil && strings.HasSuffix(col.GetName(), "."+name)
}

// concat is the registry's concat_str of args with no separator.
func concat(skipNulls bool, args ...*pb.Expr) *pb.Expr {
	return call("concat_str", append(args, str(""), literal(&pb.Literal{Value: &pb.Literal_BoolValue{BoolValue: skipNulls}}))...)
}

func intLit(v int64) *pb.Expr { return literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: v}}) }

func literal(l *pb.Literal) *pb.Expr { return &pb.Expr{Kind: &pb.Expr_Literal{Literal: l}} }

func str(s string) *pb.Expr {
	return literal(&pb.Literal{Value: &pb.Literal_StringValue{StringValue: s}})
}

// expr compiles one expression.
func (x *exprCompiler) expr(n *pg.Node) (*pb.Expr, error) {
	switch {
	case n.GetColumnRef() != nil:
		ref := n.GetColumnRef()
		if isStar(ref) {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: * stands only in a SELECT list or count(*)")
		}
		parts := make([]string, len(ref.GetFields()))
		for i, f := range ref.GetFields() {
			parts[i] = f.GetString_().GetSval()
		}
		name, outer, err := x.sc.resolveOuter(parts)
		if err != nil {
			return nil, err
		}
		x.correlated = x.correlated || outer
		return column(name), nil
	case n.GetAConst() != nil:
		return constant(n.GetAConst())
	case n.GetTypeCast() != nil:
		return x.cast(n.GetTypeCast())
	case n.GetAExpr() != nil:
		return x.aExpr(n.GetAExpr())
	case n.GetBoolExpr() != nil:
		b := n.GetBoolExpr()
		args, err := x.list(b.GetArgs())
		if err != nil {
			return nil, err
		}
		switch b.GetBoolop() {
		case pg.BoolExprType_NOT_EXPR:
			return call("not", args[0]), nil
		case pg.BoolExprType_AND_EXPR, pg.BoolExprType_OR_EXPR:
			fn := map[pg.BoolExprType]string{pg.BoolExprType_AND_EXPR: "and", pg.BoolExprType_OR_EXPR: "or"}[b.GetBoolop()]
			e := args[0]
			for _, a := range args[1:] {
				e = call(fn, e, a)
			}
			return e, nil
		}
	case n.GetNullTest() != nil:
		t := n.GetNullTest()
		arg, err := x.expr(t.GetArg())
		if err != nil {
			return nil, err
		}
		if t.GetNulltesttype() == pg.NullTestType_IS_NULL {
			return call("is_null", arg), nil
		}
		return call("is_not_null", arg), nil
	case n.GetCaseExpr() != nil:
		return x.caseExpr(n.GetCaseExpr())
	case n.GetMinMaxExpr() != nil: // GREATEST / LEAST skip nulls, as DuckDB's
		args, err := x.list(n.GetMinMaxExpr().GetArgs())
		if err != nil {
			return nil, err
		}
		if n.GetMinMaxExpr().GetOp() == pg.MinMaxOp_IS_GREATEST {
			return call("max_horizontal", args...), nil
		}
		return call("min_horizontal", args...), nil
	case n.GetCoalesceExpr() != nil:
		args, err := x.list(n.GetCoalesceExpr().GetArgs())
		if err != nil {
			return nil, err
		}
		return call("coalesce", args...), nil
	case n.GetFuncCall() != nil:
		return x.funcCall(n.GetFuncCall())
	case n.GetSubLink() != nil:
		if name, ok := x.c.sublinks[n.GetSubLink()]; ok {
			return column(name), nil
		}
		return nil, notSupported("subqueries in this place (IN and EXISTS stand as conditions of WHERE, joined by AND; scalar subqueries in WHERE and HAVING)")
	}
	return nil, notSupported(fmt.Sprintf("expressions of this kind (%s)", strings.TrimPrefix(fmt.Sprintf("%T", n.GetNode()), "*pg_query.Node_")))
}

func constant(c *pg.A_Const) (*pb.Expr, error) {
	switch {
	case c.GetIsnull():
		return literal(&pb.Literal{Value: &pb.Literal_Null{Null: &pb.DataType{}}}), nil
	case c.GetIval() != nil:
		return literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: int64(c.GetIval().GetIval())}}), nil
	case c.GetFval() != nil:
		s := c.GetFval().GetFval()
		if i, err := strconv.ParseInt(s, 10, 64); err == nil { // an integer too big for int32
			return literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: i}}), nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil { // too big for int64
			return literal(&pb.Literal{Value: &pb.Literal_UintValue{UintValue: u}}), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: %s is not a number", s)
		}
		return literal(&pb.Literal{Value: &pb.Literal_FloatValue{FloatValue: f}}), nil
	case c.GetSval() != nil:
		return str(c.GetSval().GetSval()), nil
	case c.GetBoolval() != nil:
		return literal(&pb.Literal{Value: &pb.Literal_BoolValue{BoolValue: c.GetBoolval().GetBoolval()}}), nil
	}
	return nil, notSupported("this kind of constant")
}

// typeOf maps a SQL type name to the plan's.
func typeOf(tn *pg.TypeName) (*pb.DataType, error) {
	names := tn.GetNames()
	name := strings.ToLower(names[len(names)-1].GetString_().GetSval())
	kinds := map[string]pb.DataType_Kind{
		"bool": pb.DataType_BOOL, "int2": pb.DataType_INT16, "int4": pb.DataType_INT32, "int8": pb.DataType_INT64,
		"float4": pb.DataType_FLOAT32, "float8": pb.DataType_FLOAT64, "text": pb.DataType_UTF8,
		"varchar": pb.DataType_UTF8, "bpchar": pb.DataType_UTF8, "date": pb.DataType_DATE32,
		"timestamp": pb.DataType_TIMESTAMP, "numeric": pb.DataType_DECIMAL128,
		"tinyint": pb.DataType_INT8, "smallint": pb.DataType_INT16, "integer": pb.DataType_INT32, "bigint": pb.DataType_INT64,
		"double": pb.DataType_FLOAT64, "real": pb.DataType_FLOAT32, "string": pb.DataType_UTF8,
	}
	k, ok := kinds[name]
	if !ok {
		return nil, notSupported(fmt.Sprintf("the type %s", name))
	}
	t := &pb.DataType{Kind: k}
	switch k {
	case pb.DataType_TIMESTAMP:
		t.Unit = pb.DataType_MICROSECOND
	case pb.DataType_DECIMAL128:
		t.Precision, t.Scale = 18, 3 // DuckDB's DECIMAL without a width
		mods := tn.GetTypmods()
		if len(mods) > 0 {
			if v, ok := intConst(mods[0]); ok {
				t.Precision, t.Scale = int32(v), 0
			}
		}
		if len(mods) > 1 {
			if v, ok := intConst(mods[1]); ok {
				t.Scale = int32(v)
			}
		}
	}
	return t, nil
}

// cast compiles CAST(x AS t) and x::t; a string constant cast to a date
// or timestamp is a literal of that type (DATE '1998-12-01').
func (x *exprCompiler) cast(tc *pg.TypeCast) (*pb.Expr, error) {
	names := tc.GetTypeName().GetNames()
	if strings.EqualFold(names[len(names)-1].GetString_().GetSval(), "interval") {
		return nil, kernels.Errorf(kernels.NotSupported, "SQL: an INTERVAL stands only added to or subtracted from a date or timestamp")
	}
	t, err := typeOf(tc.GetTypeName())
	if err != nil {
		return nil, err
	}
	if s := tc.GetArg().GetAConst().GetSval(); s != nil {
		switch t.GetKind() {
		case pb.DataType_DATE32:
			d, err := time.Parse("2006-01-02", strings.TrimSpace(s.GetSval()))
			if err != nil {
				return nil, kernels.Errorf(kernels.Invalid, "SQL: DATE %q: want YYYY-MM-DD", s.GetSval())
			}
			return literal(&pb.Literal{Value: &pb.Literal_DateValue{DateValue: int32(d.Unix() / 86400)}}), nil
		case pb.DataType_TIMESTAMP:
			for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", "2006-01-02"} {
				if ts, err := time.Parse(layout, strings.TrimSpace(s.GetSval())); err == nil {
					return literal(&pb.Literal{Value: &pb.Literal_TimestampValue{TimestampValue: &pb.Timestamp{Value: ts.UnixMicro(), Unit: pb.DataType_MICROSECOND}}}), nil
				}
			}
			return nil, kernels.Errorf(kernels.Invalid, "SQL: TIMESTAMP %q: want YYYY-MM-DD HH:MM:SS", s.GetSval())
		}
	}
	arg, err := x.expr(tc.GetArg())
	if err != nil {
		return nil, err
	}
	return &pb.Expr{Kind: &pb.Expr_Cast{Cast: &pb.Cast{Expr: arg, To: t}}}, nil
}

// interval reads INTERVAL '3' MONTH or INTERVAL '90 days' as a duration
// string of offset_by ("3mo", "90d"); sign -1 negates it.
func interval(n *pg.Node, sign int) (string, bool, error) {
	tc := n.GetTypeCast()
	if tc == nil {
		return "", false, nil
	}
	names := tc.GetTypeName().GetNames()
	if !strings.EqualFold(names[len(names)-1].GetString_().GetSval(), "interval") {
		return "", false, nil
	}
	s := tc.GetArg().GetAConst().GetSval()
	if s == nil {
		return "", true, notSupported("INTERVAL values that are not constants")
	}
	fields := strings.Fields(strings.ToLower(s.GetSval()))
	unit := ""
	if len(fields) == 2 {
		unit = fields[1]
	} else if mods := tc.GetTypeName().GetTypmods(); len(mods) > 0 {
		// INTERVAL '3' MONTH: the unit is a bit mask (Postgres' INTERVAL_MASK).
		if v, ok := intConst(mods[0]); ok {
			unit = map[int64]string{2: "month", 4: "year", 8: "day", 1024: "hour", 2048: "minute", 4096: "second"}[v]
		}
	}
	if len(fields) == 0 {
		return "", true, kernels.Errorf(kernels.Invalid, "SQL: INTERVAL %q: want a number and a unit, such as '3 months'", s.GetSval())
	}
	num, err := strconv.Atoi(fields[0])
	if err != nil {
		return "", true, kernels.Errorf(kernels.Invalid, "SQL: INTERVAL %q: want a whole number and a unit", s.GetSval())
	}
	units := map[string]string{"year": "y", "years": "y", "month": "mo", "months": "mo", "day": "d", "days": "d",
		"week": "w", "weeks": "w", "hour": "h", "hours": "h", "minute": "m", "minutes": "m", "second": "s", "seconds": "s"}
	u, ok := units[unit]
	if !ok {
		return "", true, kernels.Errorf(kernels.Invalid, "SQL: INTERVAL %q: unknown unit %q (want year, month, week, day, hour, minute or second)", s.GetSval(), unit)
	}
	return fmt.Sprintf("%d%s", sign*num, u), true, nil
}

func opName(a *pg.A_Expr) string {
	names := a.GetName()
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (x *exprCompiler) aExpr(a *pg.A_Expr) (*pb.Expr, error) {
	op := opName(a)
	switch a.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
		if a.GetLexpr() == nil {
			r, err := x.expr(a.GetRexpr())
			if err != nil {
				return nil, err
			}
			if op == "-" {
				return call("negate", r), nil
			}
			if op == "+" {
				return r, nil
			}
			return nil, notSupported("the prefix operator " + op)
		}
		if op == "+" || op == "-" {
			sign := map[string]int{"+": 1, "-": -1}[op]
			if d, ok, err := interval(a.GetRexpr(), sign); ok {
				if err != nil {
					return nil, err
				}
				l, err := x.expr(a.GetLexpr())
				if err != nil {
					return nil, err
				}
				// As in DuckDB and Postgres, a date moved by an interval is
				// a timestamp.
				ts := &pb.Expr{Kind: &pb.Expr_Cast{Cast: &pb.Cast{Expr: l, To: &pb.DataType{Kind: pb.DataType_TIMESTAMP, Unit: pb.DataType_MICROSECOND}}}}
				return call("offset_by", ts, str(d)), nil
			}
		}
		switch op {
		case "~~", "!~~", "~~*", "!~~*": // LIKE and ILIKE, as operators
			return x.like(a, strings.HasSuffix(op, "*"))
		}
		l, r, err := x.sides(a)
		if err != nil {
			return nil, err
		}
		fns := map[string]string{"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo",
			"=": "eq", "<>": "ne", "!=": "ne", "<": "lt", ">": "gt", "<=": "le", ">=": "ge",
			"^": "power"}
		if op == "||" { // null when either side is
			return concat(false, l, r), nil
		}
		fn, ok := fns[op]
		if !ok {
			return nil, notSupported("the operator " + op)
		}
		return call(fn, l, r), nil
	case pg.A_Expr_Kind_AEXPR_NULLIF: // null where a = b, else a
		l, r, err := x.sides(a)
		if err != nil {
			return nil, err
		}
		return call("case_when", literal(&pb.Literal{Value: &pb.Literal_Null{Null: &pb.DataType{}}}), l, call("eq", l, r)), nil // values, otherwise, conditions
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		return x.like(a, a.GetKind() == pg.A_Expr_Kind_AEXPR_ILIKE)
	case pg.A_Expr_Kind_AEXPR_IN:
		l, err := x.expr(a.GetLexpr())
		if err != nil {
			return nil, err
		}
		items, err := x.list(a.GetRexpr().GetList().GetItems())
		if err != nil {
			return nil, err
		}
		e := call("is_in", append([]*pb.Expr{l}, items...)...)
		if op == "<>" {
			e = call("not", e)
		}
		return e, nil
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		l, err := x.expr(a.GetLexpr())
		if err != nil {
			return nil, err
		}
		bounds, err := x.list(a.GetRexpr().GetList().GetItems())
		if err != nil {
			return nil, err
		}
		e := call("is_between", l, bounds[0], bounds[1], str("both"))
		if a.GetKind() == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN {
			e = call("not", e)
		}
		return e, nil
	}
	return nil, notSupported(fmt.Sprintf("%s expressions", strings.TrimPrefix(a.GetKind().String(), "AEXPR_")))
}

// sides compiles both operands of a binary operator.
func (x *exprCompiler) sides(a *pg.A_Expr) (*pb.Expr, *pb.Expr, error) {
	l, err := x.expr(a.GetLexpr())
	if err != nil {
		return nil, nil, err
	}
	r, err := x.expr(a.GetRexpr())
	return l, r, err
}

// like compiles [NOT] LIKE and [NOT] ILIKE (case folded on both sides).
func (x *exprCompiler) like(a *pg.A_Expr, fold bool) (*pb.Expr, error) {
	l, r, err := x.sides(a)
	if err != nil {
		return nil, err
	}
	if fold {
		l, r = call("lower", l), call("lower", r)
	}
	e := call("like", l, r)
	if strings.HasPrefix(opName(a), "!") {
		e = call("not", e)
	}
	return e, nil
}

func (x *exprCompiler) caseExpr(c *pg.CaseExpr) (*pb.Expr, error) {
	var subject *pb.Expr
	if c.GetArg() != nil {
		var err error
		if subject, err = x.expr(c.GetArg()); err != nil {
			return nil, err
		}
	}
	var vals, conds []*pb.Expr
	for _, w := range c.GetArgs() {
		cw := w.GetCaseWhen()
		cond, err := x.expr(cw.GetExpr())
		if err != nil {
			return nil, err
		}
		if subject != nil {
			cond = call("eq", subject, cond)
		}
		val, err := x.expr(cw.GetResult())
		if err != nil {
			return nil, err
		}
		vals, conds = append(vals, val), append(conds, cond)
	}
	otherwise := literal(&pb.Literal{Value: &pb.Literal_Null{Null: &pb.DataType{}}})
	if c.GetDefresult() != nil {
		var err error
		if otherwise, err = x.expr(c.GetDefresult()); err != nil {
			return nil, err
		}
	}
	args := append(append(vals, otherwise), conds...)
	return call("case_when", args...), nil
}

func funcName(fc *pg.FuncCall) string {
	names := fc.GetFuncname()
	return strings.ToLower(names[len(names)-1].GetString_().GetSval())
}

func (x *exprCompiler) funcCall(fc *pg.FuncCall) (*pb.Expr, error) {
	name := funcName(fc)
	if fc.GetOver() != nil {
		return x.window(fc, name)
	}
	if fc.GetAggFilter() != nil {
		return nil, notSupported("aggregate FILTER clauses")
	}
	if len(fc.GetAggOrder()) > 0 {
		return nil, notSupported("ORDER BY inside an aggregate")
	}
	if agg, ok := aggregates[name]; ok {
		x.sawAggregate = true
		if fc.GetAggStar() {
			if name != "count" {
				return nil, kernels.Errorf(kernels.Invalid, "SQL: %s(*) is not a function; only count(*) takes *", name)
			}
			return call("len"), nil
		}
		if fc.GetAggDistinct() {
			if name != "count" || len(fc.GetArgs()) != 1 {
				return nil, notSupported(name + "(DISTINCT ...)")
			}
			agg = "n_unique" // the registry's counts distinct non-null values, as SQL's count(DISTINCT x)
		}
		inner := &exprCompiler{c: x.c, sc: x.sc}
		args, err := inner.list(fc.GetArgs())
		if err != nil {
			return nil, err
		}
		if inner.sawAggregate {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: aggregate calls cannot be nested (%s of an aggregate)", name)
		}
		return call(agg, args...), nil
	}
	args, err := x.list(fc.GetArgs())
	if err != nil {
		return nil, err
	}
	switch name {
	case "extract", "date_part":
		if len(args) != 2 || args[0].GetLiteral().GetStringValue() == "" {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: %s wants a field and a date: EXTRACT(year FROM d)", name)
		}
		field := strings.ToLower(args[0].GetLiteral().GetStringValue())
		fns := map[string]string{"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute", "second": "second", "dow": "weekday"}
		fn, ok := fns[field]
		if !ok {
			return nil, notSupported("EXTRACT of " + field)
		}
		return call(fn, args[1]), nil
	case "substring", "substr":
		// SQL counts from 1; str_slice from 0.
		if len(args) < 2 {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: %s wants a string and a start", name)
		}
		start := call("subtract", args[1], literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: 1}}))
		if lit := args[1].GetLiteral(); lit != nil && lit.GetIntValue() > 0 {
			start = literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: lit.GetIntValue() - 1}})
		}
		rest := []*pb.Expr{args[0], start}
		if len(args) > 2 {
			rest = append(rest, args[2])
		}
		return call("str_slice", rest...), nil
	case "concat": // skips nulls, as DuckDB and Postgres do
		return concat(true, args...), nil
	case "left", "right":
		if len(args) != 2 {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: %s wants a string and a length: %s(s, 3)", name, name)
		}
		if name == "left" {
			return call("str_slice", args[0], intLit(0), args[1]), nil
		}
		return call("str_slice", args[0], call("negate", args[1]), literal(&pb.Literal{Value: &pb.Literal_Null{Null: &pb.DataType{Kind: pb.DataType_INT64}}})), nil
	case "mod":
		return call("modulo", args...), nil
	case "ifnull":
		return call("coalesce", args...), nil
	case "pi":
		return literal(&pb.Literal{Value: &pb.Literal_FloatValue{FloatValue: math.Pi}}), nil
	case "log": // one argument: base 10, as in DuckDB and Postgres
		if len(args) == 1 {
			return call("log", args[0], literal(&pb.Literal{Value: &pb.Literal_FloatValue{FloatValue: 10}})), nil
		}
		return call("log", args[1], args[0]), nil // log(b, x)
	case "date_trunc":
		if len(args) != 2 || args[0].GetLiteral().GetStringValue() == "" {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: date_trunc wants a part and a date: date_trunc('month', d)")
		}
		every, ok := map[string]string{"year": "1y", "quarter": "1q", "month": "1mo", "week": "1w", "day": "1d", "hour": "1h", "minute": "1m", "second": "1s"}[strings.ToLower(args[0].GetLiteral().GetStringValue())]
		if !ok {
			return nil, notSupported("date_trunc to " + args[0].GetLiteral().GetStringValue())
		}
		return call("truncate", args[1], str(every)), nil
	case "date_diff", "datediff":
		if len(args) != 3 || !strings.EqualFold(args[0].GetLiteral().GetStringValue(), "day") {
			return nil, notSupported("date_diff of anything but 'day' between two dates")
		}
		return call("days_between", args[2], args[1]), nil
	case "log10":
		return call("log", append(args, literal(&pb.Literal{Value: &pb.Literal_FloatValue{FloatValue: 10}}))...), nil
	}
	if fn, ok := scalars[name]; ok {
		return call(fn, args...), nil
	}
	var known []string
	for k := range scalars {
		known = append(known, k)
	}
	for k := range aggregates {
		known = append(known, k)
	}
	return nil, kernels.Errorf(kernels.Invalid, "SQL: unknown function %s%s", name, suggestion(name, known))
}

// Frame options of a window (Postgres' FRAMEOPTION_ bits).
const (
	frameNonDefault   = 0x1
	frameRows         = 0x4
	frameStartUnbound = 0x20
	frameEndUnbound   = 0x100
	frameEndCurrent   = 0x400
	frameBetween      = 0x10
	frameGroups       = 0x8
	frameStartCurrent = 0x200
	// offsets: n PRECEDING / FOLLOWING
	frameStartPreceding = 0x800
	frameEndPreceding   = 0x1000
	frameStartFollowing = 0x2000
	frameEndFollowing   = 0x4000
)

// window compiles f(...) OVER (PARTITION BY ... ORDER BY ...): ranking
// and offset functions, and aggregates over the whole partition or, with
// ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, running ones.
func (x *exprCompiler) window(fc *pg.FuncCall, name string) (*pb.Expr, error) {
	w := fc.GetOver()
	if w.GetRefname() != "" || w.GetName() != "" {
		return nil, notSupported("named windows (OVER w)")
	}
	over := &pb.Over{}
	for _, p := range w.GetPartitionClause() {
		e, err := x.expr(p)
		if err != nil {
			return nil, err
		}
		over.PartitionBy = append(over.PartitionBy, e)
	}
	for _, o := range w.GetOrderClause() {
		sb := o.GetSortBy()
		e, err := x.expr(sb.GetNode())
		if err != nil {
			return nil, err
		}
		over.OrderBy = append(over.OrderBy, sortKey(e, sb))
	}
	args, err := x.list(fc.GetArgs())
	if err != nil {
		return nil, err
	}
	frame := w.GetFrameOptions()
	if fn, ok := expr.Lookup(name); ok && fn.Kind == expr.Window && fn.SQL {
		over.Expr = call(name, args...)
	} else {
		agg, ok := aggregates[name]
		if !ok {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: %s is not a window function: want %s or an aggregate", name, strings.Join(sqlWindows(), ", "))
		}
		if fc.GetAggStar() {
			agg, args = "len", nil
		}
		run, hasRunning := expr.Running(agg) // sum: cum_sum
		switch {
		case frame&frameNonDefault == 0 && len(over.OrderBy) == 0,
			frame&frameStartUnbound != 0 && frame&frameEndUnbound != 0:
			over.Expr = call(agg, args...) // the whole partition
		case frame&frameRows != 0 && frame&frameStartUnbound != 0 && frame&frameEndCurrent != 0 && hasRunning && len(args) == 1:
			over.Expr = call(run.Name, args...)
		case frame&(frameRows|frameGroups) == 0 && frame&frameStartUnbound != 0 && frame&frameEndCurrent != 0 && len(over.OrderBy) > 0 &&
			(hasRunning || agg == "mean") && len(args) == 1:
			// RANGE UNBOUNDED PRECEDING to CURRENT ROW, SQL's default with
			// ORDER BY: a running aggregate up to the current row's last peer.
			over.Peers = true
			if agg == "mean" {
				sum := &pb.Over{Expr: call("cum_sum", args...), PartitionBy: over.PartitionBy, OrderBy: over.OrderBy, Peers: true}
				n := &pb.Over{Expr: call("cum_count", args...), PartitionBy: over.PartitionBy, OrderBy: over.OrderBy, Peers: true}
				num := &pb.Expr{Kind: &pb.Expr_Cast{Cast: &pb.Cast{Expr: &pb.Expr{Kind: &pb.Expr_Over{Over: sum}}, To: &pb.DataType{Kind: pb.DataType_FLOAT64}}}}
				// null, not a division by zero, before the first value
				den := call("case_when", literal(&pb.Literal{Value: &pb.Literal_Null{Null: &pb.DataType{Kind: pb.DataType_INT64}}}), &pb.Expr{Kind: &pb.Expr_Over{Over: n}},
					call("eq", &pb.Expr{Kind: &pb.Expr_Over{Over: n}}, intLit(0)))
				return call("divide", num, den), nil
			}
			over.Expr = call(run.Name, args...)
		case frame&frameRows != 0:
			before, after, err := rowsFrame(w)
			if err != nil {
				return nil, err
			}
			a := call(agg, args...)
			over.Expr = call("rolling", a, intLit(before), intLit(after), intLit(1))
			out := &pb.Expr{Kind: &pb.Expr_Over{Over: over}}
			if agg == "count" || agg == "len" { // a frame of nulls counts 0, not null
				return call("coalesce", out, intLit(0)), nil
			}
			return out, nil
		default:
			return nil, notSupported("this window frame (RANGE and GROUPS frames other than the whole partition; ROWS frames are)")
		}
	}
	return &pb.Expr{Kind: &pb.Expr_Over{Over: over}}, nil
}

// sqlWindows lists the registry's window functions SQL offers.
func sqlWindows() []string {
	var names []string
	for _, n := range expr.Names() {
		if fn, _ := expr.Lookup(n); fn.Kind == expr.Window && fn.SQL {
			names = append(names, n)
		}
	}
	return names
}

// maxFrameRows bounds a ROWS frame's width: the rolling kernel folds each
// offset in one pass over the partition.
const maxFrameRows = 10_000

// rowsFrame reads ROWS BETWEEN a AND b as rows before and after the
// current row (n PRECEDING, CURRENT ROW, n FOLLOWING).
func rowsFrame(w *pg.WindowDef) (before, after int64, err error) {
	frame := w.GetFrameOptions()
	offset := func(n *pg.Node) (int64, error) {
		v, ok := intConst(n)
		if !ok || v < 0 {
			return 0, kernels.Errorf(kernels.Invalid, "SQL: a window frame's offset must be a non-negative integer constant")
		}
		return v, nil
	}
	switch {
	case frame&frameStartCurrent != 0:
	case frame&frameStartPreceding != 0:
		if before, err = offset(w.GetStartOffset()); err != nil {
			return 0, 0, err
		}
	case frame&frameStartFollowing != 0:
		v, err := offset(w.GetStartOffset())
		if err != nil {
			return 0, 0, err
		}
		before = -v
	default:
		return 0, 0, notSupported("ROWS frames from UNBOUNDED PRECEDING to anything but CURRENT ROW or UNBOUNDED FOLLOWING")
	}
	switch {
	case frame&frameBetween == 0 || frame&frameEndCurrent != 0: // ROWS n PRECEDING ends at the current row
	case frame&frameEndFollowing != 0:
		if after, err = offset(w.GetEndOffset()); err != nil {
			return 0, 0, err
		}
	case frame&frameEndPreceding != 0:
		v, err := offset(w.GetEndOffset())
		if err != nil {
			return 0, 0, err
		}
		after = -v
	default:
		return 0, 0, notSupported("ROWS frames to UNBOUNDED FOLLOWING from anything but UNBOUNDED PRECEDING")
	}
	if before < 0 || after < 0 {
		return 0, 0, notSupported("ROWS frames that do not hold the current row")
	}
	if before+after+1 > maxFrameRows {
		return 0, 0, notSupported(fmt.Sprintf("ROWS frames wider than %d rows", maxFrameRows))
	}
	return before, after, nil
}

// nameOf is the name of a SELECT list item without an alias: a column's
// name, else the expression written out, as DuckDB names it.
func (c *compiler) nameOf(n *pg.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().GetFields()
		return f[len(f)-1].GetString_().GetSval()
	case n.GetFuncCall() != nil:
		fc := n.GetFuncCall()
		if fc.GetAggStar() {
			return funcName(fc) + "_star()"
		}
		parts := make([]string, len(fc.GetArgs()))
		for i, a := range fc.GetArgs() {
			parts[i] = c.nameOf(a)
		}
		return funcName(fc) + "(" + strings.Join(parts, ", ") + ")"
	case n.GetAConst() != nil:
		k := n.GetAConst()
		switch {
		case k.GetIval() != nil:
			return strconv.Itoa(int(k.GetIval().GetIval()))
		case k.GetFval() != nil:
			return k.GetFval().GetFval()
		case k.GetSval() != nil:
			return "'" + k.GetSval().GetSval() + "'"
		}
	case n.GetAExpr() != nil && n.GetAExpr().GetKind() == pg.A_Expr_Kind_AEXPR_OP && n.GetAExpr().GetLexpr() != nil:
		a := n.GetAExpr()
		return "(" + c.nameOf(a.GetLexpr()) + " " + opName(a) + " " + c.nameOf(a.GetRexpr()) + ")"
	case n.GetTypeCast() != nil:
		return c.nameOf(n.GetTypeCast().GetArg())
	case n.GetCaseExpr() != nil:
		return "CASE"
	}
	return "expr"
}

// equal says whether two compiled expressions are the same.
func equal(a, b *pb.Expr) bool { return proto.Equal(unalias(a), unalias(b)) }
