package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"slipstream/kernels"
	"slipstream/scheduler/plan"
	pb "slipstream/scheduler/planpb"
)

// Parameters of prepared statements (Flight SQL, JDBC, ADBC): `?` is
// numbered into Postgres' `$1, $2, ...`; each parameter is typed from
// where it stands (compared with a column, cast, a LIMIT, a value of an
// INSERT); and bound values replace the parameters in the parse tree as
// constants, so that the plan holds them as literals — never as text
// pasted into the query.

// Value is a bound parameter value (or a typed null standing for one).
type Value struct{ n *pg.Node }

// Numbered rewrites each `?` outside quotes and comments into `$1`,
// `$2`, ... in order; text that already numbers its parameters is kept.
func Numbered(text string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\'' || c == '"':
			end := closing(text, i+1, c)
			b.WriteString(text[i:end])
			i = end - 1
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				end = len(text) - i
			}
			b.WriteString(text[i : i+end])
			i += end - 1
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				end = len(text) - i - 2
			} else {
				end += 2
			}
			b.WriteString(text[i : i+2+end])
			i += 2 + end - 1
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// closing is the index just past the quote q that closes a quoted run
// starting at i (a doubled quote stands for itself).
func closing(text string, i int, q byte) int {
	for i < len(text) {
		if text[i] == q {
			if i+1 < len(text) && text[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(text)
}

// Prepared is a statement prepared for later execution.
type Prepared struct {
	// Text is the statement with numbered parameters.
	Text string
	// Query: the statement returns rows; else it changes tables.
	Query bool
	// Params has one field per parameter, $1 first, typed from where the
	// parameter stands (utf8 where nothing says).
	Params *arrow.Schema
}

// Prepare parses text (with `?` or `$n` parameters) and types its
// parameters; r gives the schemas of the tables it names.
func Prepare(text string, r plan.Resolver) (*Prepared, error) {
	text = Numbered(text)
	tree, err := parseOne(text)
	if err != nil {
		return nil, err
	}
	stmt := tree.GetStmts()[0].GetStmt()
	p := &Prepared{Text: text, Query: stmt.GetSelectStmt() != nil || stmt.GetExplainStmt() != nil}
	types := map[int32]arrow.DataType{}
	max := int32(0)
	t := &typer{r: r, tables: map[string]*arrow.Schema{}}
	t.collectTables(stmt.ProtoReflect())
	visitParams(stmt.ProtoReflect(), nil, func(ref *pg.ParamRef, stack []proto.Message) {
		max = maxInt32(max, ref.GetNumber())
		if _, ok := types[ref.GetNumber()]; ok {
			return
		}
		if dt := t.typeAt(ref, stack); dt != nil {
			types[ref.GetNumber()] = dt
		}
	})
	fields := make([]arrow.Field, max)
	for i := range fields {
		dt := types[int32(i+1)]
		if dt == nil {
			dt = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: fmt.Sprintf("$%d", i+1), Type: dt, Nullable: true}
	}
	p.Params = arrow.NewSchema(fields, nil)
	return p, nil
}

func maxInt32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

func parseOne(text string) (*pg.ParseResult, error) {
	tree, err := pg.Parse(dialect(text))
	if err != nil {
		return nil, syntaxError(text, err)
	}
	if n := len(tree.GetStmts()); n != 1 {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: want one statement, got %d", n)
	}
	return tree, nil
}

// CompileBound compiles a query whose parameters take the values params
// ($1 is params[0]), as Compile does.
func CompileBound(text string, params []Value, r plan.Resolver) (*pb.Node, error) {
	tree, err := bind(text, params)
	if err != nil {
		return nil, err
	}
	sel := tree.GetStmts()[0].GetStmt().GetSelectStmt()
	if sel == nil {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: this statement changes tables and returns no rows; run it as an update")
	}
	c := &compiler{text: text, r: r, ctes: map[string]*pb.Node{}, aliases: map[string]bool{}, sublinks: map[*pg.SubLink]string{}}
	return c.query(sel)
}

// BindText is a statement that changes tables with its parameters
// replaced by the constants params, written out as SQL by Postgres' own
// deparser (which quotes them).
func BindText(text string, params []Value) (string, error) {
	tree, err := bind(text, params)
	if err != nil {
		return "", err
	}
	out, err := pg.Deparse(tree)
	if err != nil {
		return "", kernels.Errorf(kernels.Internal, "SQL: cannot write the bound statement back as text: %v", err)
	}
	return out, nil
}

// bind parses text and replaces each parameter by its value.
func bind(text string, params []Value) (*pg.ParseResult, error) {
	tree, err := parseOne(text)
	if err != nil {
		return nil, err
	}
	var bad error
	rewrite(tree.ProtoReflect(), func(n *pg.Node) *pg.Node {
		ref := n.GetParamRef()
		if ref == nil {
			return nil
		}
		i := int(ref.GetNumber()) - 1
		if i < 0 || i >= len(params) {
			if bad == nil {
				bad = kernels.Errorf(kernels.Invalid, "SQL: parameter $%d has no value: %d parameter values were bound", i+1, len(params))
			}
			return nil
		}
		return proto.Clone(params[i].n).(*pg.Node)
	})
	return tree, bad
}

var nodeName = (&pg.Node{}).ProtoReflect().Descriptor().FullName()

// rewrite calls f on every Node under m, depth first; a non-nil result
// takes the node's place.
func rewrite(m protoreflect.Message, f func(*pg.Node) *pg.Node) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		visit := func(x protoreflect.Message) (protoreflect.Message, bool) {
			if x.Descriptor().FullName() == nodeName {
				if repl := f(x.Interface().(*pg.Node)); repl != nil {
					return repl.ProtoReflect(), true
				}
			}
			rewrite(x, f)
			return nil, false
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if repl, ok := visit(l.Get(i).Message()); ok {
					l.Set(i, protoreflect.ValueOfMessage(repl))
				}
			}
			return true
		}
		if repl, ok := visit(v.Message()); ok {
			m.Set(fd, protoreflect.ValueOfMessage(repl))
		}
		return true
	})
}

// visitParams calls f on every parameter under m with the messages
// above it (nearest last), the Node and List wrappers left out.
func visitParams(m protoreflect.Message, stack []proto.Message, f func(*pg.ParamRef, []proto.Message)) {
	if ref, ok := m.Interface().(*pg.ParamRef); ok {
		f(ref, stack)
		return
	}
	switch m.Interface().(type) {
	case *pg.Node, *pg.List:
	default:
		stack = append(stack, m.Interface())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visitParams(l.Get(i).Message(), stack, f)
			}
			return true
		}
		visitParams(v.Message(), stack, f)
		return true
	})
}

// typer types parameters from where they stand.
type typer struct {
	r      plan.Resolver
	tables map[string]*arrow.Schema // by name and alias, lower case
	all    []*arrow.Schema
}

func (t *typer) collectTables(m protoreflect.Message) {
	if rv, ok := m.Interface().(*pg.RangeVar); ok {
		if s, err := t.r.TableSchema(rv.GetRelname()); err == nil {
			t.tables[strings.ToLower(rv.GetRelname())] = s
			if a := rv.GetAlias().GetAliasname(); a != "" {
				t.tables[strings.ToLower(a)] = s
			}
			t.all = append(t.all, s)
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				t.collectTables(l.Get(i).Message())
			}
			return true
		}
		t.collectTables(v.Message())
		return true
	})
}

func isParam(n *pg.Node, ref *pg.ParamRef) bool { return n.GetParamRef() == ref }

// typeAt is the type a parameter takes where it stands, or nil.
func (t *typer) typeAt(ref *pg.ParamRef, stack []proto.Message) arrow.DataType {
	if len(stack) == 0 {
		return nil
	}
	switch p := stack[len(stack)-1].(type) {
	case *pg.TypeCast:
		return sqlType(p.GetTypeName())
	case *pg.A_Expr:
		op := opName(p)
		if k := p.GetKind(); k == pg.A_Expr_Kind_AEXPR_LIKE || k == pg.A_Expr_Kind_AEXPR_ILIKE || strings.Contains(op, "~~") || op == "||" {
			return arrow.BinaryTypes.String
		}
		other := p.GetLexpr()
		if isParam(other, ref) {
			other = p.GetRexpr()
		}
		return t.operandType(other)
	case *pg.SelectStmt:
		if isParam(p.GetLimitCount(), ref) || isParam(p.GetLimitOffset(), ref) {
			return arrow.PrimitiveTypes.Int64
		}
		if len(stack) >= 2 {
			if ins, ok := stack[len(stack)-2].(*pg.InsertStmt); ok {
				return t.insertType(ins, p, ref)
			}
		}
	}
	return nil
}

// insertType is the type of the column an INSERT ... VALUES parameter
// fills.
func (t *typer) insertType(ins *pg.InsertStmt, sel *pg.SelectStmt, ref *pg.ParamRef) arrow.DataType {
	s := t.tables[strings.ToLower(ins.GetRelation().GetRelname())]
	if s == nil {
		return nil
	}
	for _, row := range sel.GetValuesLists() {
		for i, item := range row.GetList().GetItems() {
			if !isParam(item, ref) {
				continue
			}
			name := ""
			if cols := ins.GetCols(); len(cols) > 0 {
				if i >= len(cols) {
					return nil
				}
				name = cols[i].GetResTarget().GetName()
			} else if i < s.NumFields() {
				name = s.Field(i).Name
			}
			for _, f := range s.Fields() {
				if strings.EqualFold(f.Name, name) {
					return f.Type
				}
			}
			return nil
		}
	}
	return nil
}

// operandType is the type of the operand a parameter meets: a column of
// a table the statement names, a constant or a cast.
func (t *typer) operandType(n *pg.Node) arrow.DataType {
	switch {
	case n.GetColumnRef() != nil:
		fields := n.GetColumnRef().GetFields()
		if len(fields) == 0 || fields[len(fields)-1].GetString_() == nil {
			return nil
		}
		name := fields[len(fields)-1].GetString_().GetSval()
		schemas := t.all
		if len(fields) >= 2 {
			s := t.tables[strings.ToLower(fields[len(fields)-2].GetString_().GetSval())]
			if s == nil {
				return nil
			}
			schemas = []*arrow.Schema{s}
		}
		for _, s := range schemas {
			for _, f := range s.Fields() {
				if strings.EqualFold(f.Name, name) {
					return f.Type
				}
			}
		}
	case n.GetTypeCast() != nil:
		return sqlType(n.GetTypeCast().GetTypeName())
	case n.GetAConst() != nil:
		c := n.GetAConst()
		switch {
		case c.GetIval() != nil:
			return arrow.PrimitiveTypes.Int64
		case c.GetFval() != nil:
			return arrow.PrimitiveTypes.Float64
		case c.GetSval() != nil:
			return arrow.BinaryTypes.String
		case c.GetBoolval() != nil:
			return arrow.FixedWidthTypes.Boolean
		}
	}
	return nil
}

func sqlType(tn *pg.TypeName) arrow.DataType {
	t, err := typeOf(tn)
	if err != nil {
		return nil
	}
	dt, err := plan.DataType(t)
	if err != nil {
		return nil
	}
	return dt
}

// TypedNull is a null of type dt as a parameter value: it stands for a
// parameter not bound yet, so that a prepared query's result schema can
// be derived.
func TypedNull(dt arrow.DataType) Value {
	null := &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Isnull: true}}}
	if name := sqlTypeName(dt); name != nil {
		return Value{cast(null, name)}
	}
	return Value{null}
}

// sqlTypeName names an Arrow type as SQL does, or nil.
func sqlTypeName(dt arrow.DataType) *pg.TypeName {
	names := map[arrow.Type]string{
		arrow.BOOL: "bool", arrow.INT8: "int2", arrow.INT16: "int2", arrow.INT32: "int4", arrow.INT64: "int8",
		arrow.UINT8: "int2", arrow.UINT16: "int4", arrow.UINT32: "int8",
		arrow.FLOAT32: "float4", arrow.FLOAT64: "float8", arrow.STRING: "text", arrow.LARGE_STRING: "text",
		arrow.STRING_VIEW: "text", arrow.DATE32: "date", arrow.DATE64: "date", arrow.TIMESTAMP: "timestamp",
	}
	if d, ok := dt.(*arrow.Decimal128Type); ok {
		return &pg.TypeName{Names: []*pg.Node{pg.MakeStrNode("pg_catalog"), pg.MakeStrNode("numeric")},
			Typmods: []*pg.Node{pg.MakeAConstIntNode(int64(d.Precision), -1), pg.MakeAConstIntNode(int64(d.Scale), -1)}, Location: -1}
	}
	name, ok := names[dt.ID()]
	if !ok {
		return nil
	}
	return &pg.TypeName{Names: []*pg.Node{pg.MakeStrNode("pg_catalog"), pg.MakeStrNode(name)}, Location: -1}
}

func cast(n *pg.Node, t *pg.TypeName) *pg.Node {
	return &pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{Arg: n, TypeName: t, Location: -1}}}
}

func constNode(c *pg.A_Const) *pg.Node {
	c.Location = -1
	return &pg.Node{Node: &pg.Node_AConst{AConst: c}}
}

func strConst(s string) *pg.Node {
	return constNode(&pg.A_Const{Val: &pg.A_Const_Sval{Sval: &pg.String{Sval: s}}})
}

// ParamValue is row i of a bound parameter column as a constant.
func ParamValue(col arrow.Array, i int) (Value, error) {
	n, err := paramNode(col, i)
	return Value{n}, err
}

func paramNode(col arrow.Array, i int) (*pg.Node, error) {
	if col.IsNull(i) {
		return TypedNull(col.DataType()).n, nil
	}
	named := func(s, typ string) *pg.Node {
		return cast(strConst(s), &pg.TypeName{Names: []*pg.Node{pg.MakeStrNode("pg_catalog"), pg.MakeStrNode(typ)}, Location: -1})
	}
	integer := func(v int64) *pg.Node {
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return constNode(&pg.A_Const{Val: &pg.A_Const_Ival{Ival: &pg.Integer{Ival: int32(v)}}})
		}
		return constNode(&pg.A_Const{Val: &pg.A_Const_Fval{Fval: &pg.Float{Fval: strconv.FormatInt(v, 10)}}})
	}
	switch a := col.(type) {
	case *array.Boolean:
		return constNode(&pg.A_Const{Val: &pg.A_Const_Boolval{Boolval: &pg.Boolean{Boolval: a.Value(i)}}}), nil
	case *array.Int8:
		return integer(int64(a.Value(i))), nil
	case *array.Int16:
		return integer(int64(a.Value(i))), nil
	case *array.Int32:
		return integer(int64(a.Value(i))), nil
	case *array.Int64:
		return integer(a.Value(i)), nil
	case *array.Uint8:
		return integer(int64(a.Value(i))), nil
	case *array.Uint16:
		return integer(int64(a.Value(i))), nil
	case *array.Uint32:
		return integer(int64(a.Value(i))), nil
	case *array.Uint64:
		return constNode(&pg.A_Const{Val: &pg.A_Const_Fval{Fval: &pg.Float{Fval: strconv.FormatUint(a.Value(i), 10)}}}), nil
	case *array.Float32:
		return float(float64(a.Value(i)), "float4"), nil
	case *array.Float64:
		return float(a.Value(i), "float8"), nil
	case *array.String:
		return strConst(strings.Clone(a.Value(i))), nil // the value must outlive the batch
	case *array.LargeString:
		return strConst(strings.Clone(a.Value(i))), nil // the value must outlive the batch
	case *array.StringView:
		return strConst(strings.Clone(a.Value(i))), nil // the value must outlive the batch
	case *array.Date32:
		return named(a.Value(i).ToTime().Format("2006-01-02"), "date"), nil
	case *array.Date64:
		return named(a.Value(i).ToTime().Format("2006-01-02"), "date"), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		ts := a.Value(i).ToTime(unit).UTC()
		return named(ts.Format("2006-01-02 15:04:05.999999"), "timestamp"), nil
	case *array.Decimal128:
		d := a.DataType().(*arrow.Decimal128Type)
		return cast(strConst(decimalText(a.Value(i), d.Scale)), sqlTypeName(d)), nil
	}
	return nil, kernels.Errorf(kernels.NotSupported, "SQL: a parameter of type %s is not supported yet (bind bool, integers, floats, strings, dates, timestamps or decimals)", col.DataType())
}

func float(f float64, typ string) *pg.Node {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cast(strConst(s), &pg.TypeName{Names: []*pg.Node{pg.MakeStrNode("pg_catalog"), pg.MakeStrNode(typ)}, Location: -1})
	}
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0" // a float, not an integer
	}
	neg := strings.HasPrefix(s, "-")
	c := constNode(&pg.A_Const{Val: &pg.A_Const_Fval{Fval: &pg.Float{Fval: strings.TrimPrefix(s, "-")}}})
	if neg {
		return &pg.Node{Node: &pg.Node_AExpr{AExpr: &pg.A_Expr{Kind: pg.A_Expr_Kind_AEXPR_OP, Name: []*pg.Node{pg.MakeStrNode("-")}, Rexpr: c, Location: -1}}}
	}
	return c
}

func decimalText(v decimal128.Num, scale int32) string {
	s := v.BigInt().String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if scale > 0 {
		for int32(len(s)) <= scale {
			s = "0" + s
		}
		s = s[:int32(len(s))-scale] + "." + s[int32(len(s))-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
