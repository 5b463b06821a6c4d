package plan

import (
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels/expr"
	"slipstream/scheduler/planpb"
)

// polars' multi-column expressions (planpb.Selector) and output naming
// (planpb.Rename) are expanded here, against the schema of the node's
// input, into plain expressions before a node's expressions are built:
// col("a", "b").sum() becomes col("a").sum(), col("b").sum(), and
// col("x").sum().name.suffix("_total") becomes an alias "x_total".

// expandExprs expands every expression of es against s.
func expandExprs(es []*planpb.Expr, s *arrow.Schema) ([]*planpb.Expr, error) {
	if !anySelectorOrRename(es) {
		return es, nil
	}
	var out []*planpb.Expr
	for _, e := range es {
		x, err := expandExpr(e, s)
		if err != nil {
			return nil, err
		}
		out = append(out, x...)
	}
	return out, nil
}

func anySelectorOrRename(es []*planpb.Expr) bool {
	for _, e := range es {
		if hasKind(e, func(e *planpb.Expr) bool { return e.GetSelector() != nil || e.GetRename() != nil }) {
			return true
		}
	}
	return false
}

// hasKind reports whether is holds for e or an expression inside it.
func hasKind(e *planpb.Expr, is func(*planpb.Expr) bool) bool {
	if is(e) {
		return true
	}
	for _, c := range children(e) {
		if hasKind(c, is) {
			return true
		}
	}
	return false
}

func children(e *planpb.Expr) []*planpb.Expr {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Call:
		return k.Call.GetArgs()
	case *planpb.Expr_Alias:
		return []*planpb.Expr{k.Alias.GetExpr()}
	case *planpb.Expr_Cast:
		return []*planpb.Expr{k.Cast.GetExpr()}
	case *planpb.Expr_Rename:
		return []*planpb.Expr{k.Rename.GetExpr()}
	case *planpb.Expr_Over:
		out := []*planpb.Expr{k.Over.GetExpr()}
		out = append(out, k.Over.GetPartitionBy()...)
		for _, o := range k.Over.GetOrderBy() {
			out = append(out, o.GetExpr())
		}
		return out
	}
	return nil
}

// expandExpr is e once per column its selectors select, renames applied.
func expandExpr(e *planpb.Expr, s *arrow.Schema) ([]*planpb.Expr, error) {
	e, err := expandArgs(e, s)
	if err != nil {
		return nil, err
	}
	var cols []string
	var first *planpb.Selector
	var selErr error
	hasKind(e, func(x *planpb.Expr) bool {
		sel := x.GetSelector()
		if sel == nil || selErr != nil {
			return false
		}
		names, err := selectColumns(sel, s)
		switch {
		case err != nil:
			selErr = err
		case first == nil:
			first, cols = sel, names
		case strings.Join(names, "\x00") != strings.Join(cols, "\x00"):
			selErr = invalidf("an expression holds two selectors of different columns (%s and %s); use one, or name the columns", strings.Join(cols, ", "), strings.Join(names, ", "))
		}
		return false
	})
	if selErr != nil {
		return nil, selErr
	}
	if first == nil {
		r, err := applyRenames(e)
		if err != nil {
			return nil, err
		}
		return []*planpb.Expr{r}, nil
	}
	out := make([]*planpb.Expr, 0, len(cols))
	for _, c := range cols {
		col := &planpb.Expr{Kind: &planpb.Expr_Column{Column: &planpb.Column{Name: c}}}
		one := substitute(e, func(x *planpb.Expr) *planpb.Expr {
			if x.GetSelector() != nil {
				return col
			}
			return nil
		})
		r, err := applyRenames(one)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// expandArgs expands a selector directly under a call of any number of
// arguments (sum_horizontal(all()), coalesce(col("a", "b"))) into them.
func expandArgs(e *planpb.Expr, s *arrow.Schema) (*planpb.Expr, error) {
	var err error
	out := substitute(e, func(x *planpb.Expr) *planpb.Expr {
		call := x.GetCall()
		fn, ok := expr.Lookup(call.GetFunction())
		if call == nil || !ok || fn.MaxArity >= 0 || err != nil {
			return nil
		}
		var args []*planpb.Expr
		for _, a := range call.GetArgs() {
			sel := a.GetSelector()
			if sel == nil {
				var ae *planpb.Expr
				if ae, err = expandArgs(a, s); err != nil {
					return x
				}
				args = append(args, ae)
				continue
			}
			names, serr := selectColumns(sel, s)
			if serr != nil {
				err = serr
				return x
			}
			for _, n := range names {
				args = append(args, &planpb.Expr{Kind: &planpb.Expr_Column{Column: &planpb.Column{Name: n}}})
			}
		}
		return &planpb.Expr{Kind: &planpb.Expr_Call{Call: &planpb.Call{Function: call.GetFunction(), Args: args}}}
	})
	return out, err
}

// substitute copies e, replacing each expression for which repl returns
// non-nil (and not looking inside it).
func substitute(e *planpb.Expr, repl func(*planpb.Expr) *planpb.Expr) *planpb.Expr {
	if r := repl(e); r != nil {
		return r
	}
	out := proto.Clone(e).(*planpb.Expr)
	switch k := out.GetKind().(type) {
	case *planpb.Expr_Call:
		for i, a := range k.Call.Args {
			k.Call.Args[i] = substitute(a, repl)
		}
	case *planpb.Expr_Alias:
		k.Alias.Expr = substitute(k.Alias.Expr, repl)
	case *planpb.Expr_Cast:
		k.Cast.Expr = substitute(k.Cast.Expr, repl)
	case *planpb.Expr_Rename:
		k.Rename.Expr = substitute(k.Rename.Expr, repl)
	case *planpb.Expr_Over:
		k.Over.Expr = substitute(k.Over.Expr, repl)
		for i, p := range k.Over.PartitionBy {
			k.Over.PartitionBy[i] = substitute(p, repl)
		}
		for _, o := range k.Over.OrderBy {
			o.Expr = substitute(o.Expr, repl)
		}
	}
	return out
}

// applyRenames turns each Rename into an alias named after the column its
// expression reads.
func applyRenames(e *planpb.Expr) (*planpb.Expr, error) {
	var err error
	out := substitute(e, func(x *planpb.Expr) *planpb.Expr {
		r := x.GetRename()
		if r == nil || err != nil {
			return nil
		}
		inner, ierr := applyRenames(r.GetExpr())
		if ierr != nil {
			err = ierr
			return x
		}
		root := rootColumn(inner)
		if root == "" {
			err = invalidf("name.keep(), .prefix() and .suffix() name an expression after the column it reads; %s reads none", exprText(inner))
			return x
		}
		switch r.GetCase() {
		case planpb.Rename_LOWER:
			root = strings.ToLower(root)
		case planpb.Rename_UPPER:
			root = strings.ToUpper(root)
		}
		for inner.GetAlias() != nil {
			inner = inner.GetAlias().GetExpr()
		}
		return &planpb.Expr{Kind: &planpb.Expr_Alias{Alias: &planpb.Alias{Expr: inner, Name: r.GetPrefix() + root + r.GetSuffix()}}}
	})
	return out, err
}

// rootColumn is the first column e reads, depth first ("" for none).
func rootColumn(e *planpb.Expr) string {
	if c := e.GetColumn(); c != nil {
		return c.GetName()
	}
	for _, c := range children(e) {
		if n := rootColumn(c); n != "" {
			return n
		}
	}
	return ""
}

func exprText(e *planpb.Expr) string {
	if c := e.GetCall(); c != nil {
		return c.GetFunction() + "(...)"
	}
	if l := e.GetLiteral(); l != nil {
		return "a literal"
	}
	return "the expression"
}

// selectColumns lists the columns of s that sel selects.
func selectColumns(sel *planpb.Selector, s *arrow.Schema) ([]string, error) {
	match := func(patterns []string) (func(string) bool, error) {
		res := make([]*regexp.Regexp, len(patterns))
		for i, p := range patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, invalidf("column pattern %q is not a regular expression: %v", p, err)
			}
			res[i] = re
		}
		return func(name string) bool {
			for _, re := range res {
				if re.MatchString(name) {
					return true
				}
			}
			return false
		}, nil
	}
	var excl, exclPatterns []string
	for _, x := range sel.GetExclude() {
		if strings.HasPrefix(x, "^") && strings.HasSuffix(x, "$") {
			exclPatterns = append(exclPatterns, x)
		} else {
			excl = append(excl, x)
		}
	}
	inc, err := match(sel.GetPatterns())
	if err != nil {
		return nil, err
	}
	exc, err := match(exclPatterns)
	if err != nil {
		return nil, err
	}
	dropped := func(f arrow.Field) bool {
		for _, n := range excl {
			if n == f.Name {
				return true
			}
		}
		return exc(f.Name) || typeIn(f.Type, sel.GetExcludeDtypes())
	}
	var out []string
	onlyNames := !sel.GetAll() && len(sel.GetPatterns()) == 0 && len(sel.GetDtypes()) == 0
	if onlyNames {
		// In the order given; each must exist.
		for _, n := range sel.GetNames() {
			i := s.FieldIndices(n)
			if len(i) == 0 {
				if _, err := resolveColumn(n, s); err != nil {
					return nil, err
				}
			}
			if !dropped(s.Field(i[0])) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	named := map[string]bool{}
	for _, n := range sel.GetNames() {
		if len(s.FieldIndices(n)) == 0 {
			if _, err := resolveColumn(n, s); err != nil {
				return nil, err
			}
		}
		named[n] = true
	}
	for _, f := range s.Fields() {
		if (sel.GetAll() || named[f.Name] || inc(f.Name) || typeIn(f.Type, sel.GetDtypes())) && !dropped(f) {
			out = append(out, f.Name)
		}
	}
	return out, nil
}

// typeIn reports whether t is of one of the kinds of ts (strings of any
// width alike; timestamps and decimals of any unit, zone or precision).
func typeIn(t arrow.DataType, ts []*planpb.DataType) bool {
	for _, pt := range ts {
		want, err := DataType(pt)
		if err != nil {
			continue
		}
		switch {
		case expr.IsString(want) && expr.IsString(t):
			return true
		case want.ID() == t.ID():
			return true
		}
	}
	return false
}
