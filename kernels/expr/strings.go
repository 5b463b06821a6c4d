package expr

import (
	"context"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	utf8enc "unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// String functions over utf8 and large_utf8 (views arrive as large_utf8):
// typed loops over the offsets and data buffers. A null string, or a null
// constant argument, gives null. Regular expressions are Go's RE2 syntax,
// the same family as DuckDB's and polars'.

// param is the kind of a string function's argument after the first.
type param int

const (
	pText param = iota // a string; cast to the type of the first argument
	pInt               // an integer; cast to int64
)

func init() {
	boolOut := func(arrow.DataType) arrow.DataType { return arrow.FixedWidthTypes.Boolean }
	same := func(t arrow.DataType) arrow.DataType { return t }
	i64 := func(arrow.DataType) arrow.DataType { return arrow.PrimitiveTypes.Int64 }

	for name, match := range map[string]func(s, p string) bool{
		"contains": strings.Contains, "starts_with": strings.HasPrefix, "ends_with": strings.HasSuffix,
	} {
		register(&Function{Name: name, Arity: 2, Resolve: resolveStr(name, boolOut, pText),
			eval: func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
				return strPredicate(ctx, args, func(p string) (func(string) bool, error) {
					return func(s string) bool { return match(s, p) }, nil
				})
			}})
	}
	register(&Function{Name: "regexp_matches", Arity: 2, Resolve: resolveStr("regexp_matches", boolOut, pText),
		eval: func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
			return strPredicate(ctx, args, func(p string) (func(string) bool, error) {
				return regexMatcher(p)
			})
		}})
	register(&Function{Name: "like", Arity: 2, Resolve: resolveStr("like", boolOut, pText),
		eval: func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
			return strPredicate(ctx, args, likeMatcher)
		}})
	register(&Function{Name: "regexp_extract", Arity: 3, Resolve: resolveStr("regexp_extract", same, pText, pInt), eval: regexpExtract})
	register(&Function{Name: "lower", Arity: 1, Resolve: resolveStr("lower", same), eval: mapFn("lower", caseMapper(unicode.ToLower, 'A', 'Z'))})
	register(&Function{Name: "upper", Arity: 1, Resolve: resolveStr("upper", same), eval: mapFn("upper", caseMapper(unicode.ToUpper, 'a', 'z'))})
	register(&Function{Name: "len_chars", Arity: 1, Resolve: resolveStr("len_chars", i64), eval: strLength(true)})
	register(&Function{Name: "len_bytes", Arity: 1, Resolve: resolveStr("len_bytes", i64), eval: strLength(false)})
	register(&Function{Name: "str_slice", Arity: 3, Resolve: resolveStr("str.slice", same, pInt, pInt), eval: strSlice})
	register(&Function{Name: "strip_chars", Arity: 1, MaxArity: 2, Resolve: resolveStr("strip_chars", same, pText), eval: stripChars})
	for _, all := range []bool{false, true} {
		name, rname := "replace", "regexp_replace"
		if all {
			name, rname = "replace_all", "regexp_replace_all"
		}
		register(&Function{Name: name, Arity: 3, Resolve: resolveStr(name, same, pText, pText), eval: replaceFn(name, false, all)})
		register(&Function{Name: rname, Arity: 3, Resolve: resolveStr(rname, same, pText, pText), eval: replaceFn(rname, true, all)})
	}
	register(&Function{Name: "concat_str", Arity: 3, MaxArity: -1, Resolve: resolveConcatStr, eval: concatStr})
}

// resolveStr checks a function whose first argument is a string and whose
// others are of the given kinds (trailing ones may be missing).
func resolveStr(name string, out func(arrow.DataType) arrow.DataType, params ...param) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		s := in[0]
		if IsNull(s) {
			s = arrow.BinaryTypes.String
		}
		st, ok := stringType(s)
		if !ok {
			return nil, nil, invalid("%s needs a string, got %s: cast it to utf8 first", name, TypeName(s))
		}
		args := []arrow.DataType{st}
		for i, t := range in[1:] {
			switch params[i] {
			case pText:
				if !IsNull(t) && !IsString(t) {
					return nil, nil, invalid("argument %d of %s must be a string, got %s", i+2, name, TypeName(t))
				}
				args = append(args, st)
			case pInt:
				if !IsNull(t) && !IsInteger(t) {
					return nil, nil, invalid("argument %d of %s must be an integer, got %s", i+2, name, TypeName(t))
				}
				args = append(args, arrow.PrimitiveTypes.Int64)
			}
		}
		return out(st), args, nil
	}
}

// compileRegex compiles a user's pattern, saying which function it was for.
func compileRegex(fn, pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, invalid("%s: %q is not a valid regular expression: %v", fn, pattern, err)
	}
	return re, nil
}

// regexMatcher tests whether a string holds a match of the pattern p. A
// pattern that is literals joined by .* ("special.*requests", TPC-H q13)
// is matched by searching for each literal after the one before, within a
// line: several times faster than the regexp package's backtracker, which
// starts again at every occurrence of the first literal.
func regexMatcher(p string) (func(string) bool, error) {
	re, err := compileRegex("str.contains", p)
	if err != nil {
		return nil, err
	}
	lits, ok := literalChain(p)
	if !ok {
		return re.MatchString, nil
	}
	return func(s string) bool {
		for { // . matches no newline: a match lies within a line
			line, rest, more := strings.Cut(s, "\n")
			if inOrder(line, lits) {
				return true
			}
			if !more {
				return false
			}
			s = rest
		}
	}, nil
}

// inOrder says whether s holds lits one after the other, not overlapping.
func inOrder(s string, lits []string) bool {
	for _, l := range lits {
		i := strings.Index(s, l)
		if i < 0 {
			return false
		}
		s = s[i+len(l):]
	}
	return true
}

// literalChain splits a pattern of literals joined by .* (with no flags,
// and no newline in a literal) into the literals.
func literalChain(p string) ([]string, bool) {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, false
	}
	re = re.Simplify()
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	var lits []string
	for i, part := range parts {
		literal := part.Op == syntax.OpLiteral && part.Flags&syntax.FoldCase == 0
		anything := part.Op == syntax.OpStar && part.Sub[0].Op == syntax.OpAnyCharNotNL
		switch {
		case i%2 == 0 && literal && !strings.ContainsRune(string(part.Rune), '\n'):
			lits = append(lits, string(part.Rune))
		case i%2 == 1 && anything:
		default:
			return nil, false
		}
	}
	return lits, len(parts)%2 == 1
}

// stringArg is a constant string argument: ok is false when it is null.
// A column there is an error naming the function and the argument.
func stringArg(fn, what string, d compute.Datum) (string, bool, error) {
	s := constant(d)
	if s == nil {
		return "", false, invalid("the %s of %s must be a constant, got a column", what, fn)
	}
	v, ok := scalarString(s)
	return v, ok, nil
}

// intArg is intArg's integer counterpart.
func intArg(fn, what string, d compute.Datum) (int64, bool, error) {
	s := constant(d)
	if s == nil {
		return 0, false, invalid("the %s of %s must be a constant, got a column", what, fn)
	}
	v, ok := scalarInt(s)
	return v, ok, nil
}

// strPredicate evaluates a string test; the pattern may be a constant
// (compiled once) or a column of the same type (compiled per distinct value).
func strPredicate(ctx context.Context, args []compute.Datum, compile func(p string) (func(string) bool, error)) (compute.Datum, error) {
	mem, s, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer s.Release()
	var out *boolOut
	if s.DataType().ID() == arrow.STRING {
		out, err = predicateLoop[int32](mem, s, args[1], compile)
	} else {
		out, err = predicateLoop[int64](mem, s, args[1], compile)
	}
	if err != nil {
		return nil, err
	}
	return result(out.finish(), anyArray)
}

func predicateLoop[O int32 | int64](mem memory.Allocator, s arrow.Array, pat compute.Datum, compile func(string) (func(string) bool, error)) (*boolOut, error) {
	n := s.Len()
	out := newBoolOut(mem, n)
	v := viewOf[O](s)
	if c := constant(pat); c != nil {
		p, ok := scalarString(c)
		if !ok {
			for i := 0; i < n; i++ {
				out.setNull(i, mem)
			}
			return out, nil
		}
		match, err := compile(p)
		if err != nil {
			out.finish().Release()
			return nil, err
		}
		for i := 0; i < n; i++ {
			if !v.isValid(i) {
				out.setNull(i, mem)
			} else if match(v.at(i)) {
				out.set(i, true)
			}
		}
		return out, nil
	}
	parr := pat.(*compute.ArrayDatum).MakeArray()
	defer parr.Release()
	pv := viewOf[O](parr)
	cache := map[string]func(string) bool{}
	for i := 0; i < n; i++ {
		if !v.isValid(i) || !pv.isValid(i) {
			out.setNull(i, mem)
			continue
		}
		p := pv.at(i)
		match, ok := cache[p]
		if !ok {
			var err error
			if match, err = compile(p); err != nil {
				out.finish().Release()
				return nil, err
			}
			cache[strings.Clone(p)] = match
		}
		if match(v.at(i)) {
			out.set(i, true)
		}
	}
	return out, nil
}

// likeMatcher compiles a SQL LIKE pattern: % is any run of characters, _
// one character, anything else itself. Patterns of literal parts and %
// only are matched with prefix, suffix and substring searches.
func likeMatcher(p string) (func(string) bool, error) {
	if strings.ContainsRune(p, '_') {
		var re strings.Builder
		re.WriteString(`^(?s:`)
		for _, r := range p {
			switch r {
			case '%':
				re.WriteString(`.*`)
			case '_':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`)$`)
		compiled, err := regexp.Compile(re.String())
		if err != nil {
			return nil, invalid("like: cannot match the pattern %q: %v", p, err)
		}
		return compiled.MatchString, nil
	}
	parts := strings.Split(p, "%")
	if len(parts) == 1 {
		return func(s string) bool { return s == p }, nil
	}
	first, last, middle := parts[0], parts[len(parts)-1], parts[1:len(parts)-1]
	return func(s string) bool {
		if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
			return false
		}
		return inOrder(s[len(first):len(s)-len(last)], middle)
	}, nil
}

// mapper appends the result for s to dst; ok false makes the row null.
type mapper func(dst []byte, s string) (out []byte, ok bool)

// mapStrings applies f to every non-null row of s; the result has s's type.
func mapStrings(mem memory.Allocator, s arrow.Array, f mapper) (arrow.Array, error) {
	if s.DataType().ID() == arrow.STRING {
		return mapLoop[int32](mem, s, f)
	}
	return mapLoop[int64](mem, s, f)
}

func mapLoop[O int32 | int64](mem memory.Allocator, s arrow.Array, f mapper) (arrow.Array, error) {
	v := viewOf[O](s)
	n := s.Len()
	out := newStrOut[O](mem, s.DataType(), n, int(v.offs[n]-v.offs[0]))
	for i := 0; i < n; i++ {
		if !v.isValid(i) {
			out.appendNull()
			continue
		}
		var ok bool
		out.data, ok = f(out.data, v.at(i))
		if ok {
			out.endRow()
		} else {
			out.data = out.data[:out.offs[len(out.offs)-1]]
			out.appendNull()
		}
	}
	return out.finish()
}

// mapFn is a scalar function of one string argument.
func mapFn(_ string, f mapper) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		return mapDatum(ctx, args[0], f)
	}
}

func mapDatum(ctx context.Context, d compute.Datum, f mapper) (compute.Datum, error) {
	_, anyArray := rowCount([]compute.Datum{d})
	mem := Allocator(ctx)
	s, err := asArray(mem, d, 1)
	if err != nil {
		return nil, err
	}
	defer s.Release()
	out, err := mapStrings(mem, s, f)
	if err != nil {
		return nil, err
	}
	return result(out, anyArray)
}

// caseMapper maps every character with to; ASCII text takes a byte loop.
func caseMapper(to func(rune) rune, lo, hi byte) mapper {
	return func(dst []byte, s string) ([]byte, bool) {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8enc.RuneSelf {
				for _, r := range s {
					dst = utf8enc.AppendRune(dst, to(r))
				}
				return dst, true
			}
		}
		for i := 0; i < len(s); i++ {
			b := s[i]
			if b >= lo && b <= hi {
				b ^= 0x20
			}
			dst = append(dst, b)
		}
		return dst, true
	}
}

// strLength counts characters (chars) or bytes of each string, as int64.
func strLength(chars bool) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		mem, s, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer s.Release()
		var out arrow.Array
		if s.DataType().ID() == arrow.STRING {
			out = lengthLoop[int32](mem, s, chars)
		} else {
			out = lengthLoop[int64](mem, s, chars)
		}
		return result(out, anyArray)
	}
}

func lengthLoop[O int32 | int64](mem memory.Allocator, s arrow.Array, chars bool) arrow.Array {
	v := viewOf[O](s)
	out := make([]int64, s.Len())
	for i := range out {
		if chars {
			out[i] = int64(utf8enc.RuneCount(v.data[v.offs[i]:v.offs[i+1]]))
		} else {
			out[i] = int64(v.offs[i+1] - v.offs[i])
		}
	}
	validity, nulls := copyValidity(mem, s)
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, out, validity, nulls)
}

// copyValidity is a copy of a's validity bitmap at offset 0 (nil: no nulls).
func copyValidity(mem memory.Allocator, a arrow.Array) (*memory.Buffer, int) {
	if a.NullN() == 0 {
		return nil, 0
	}
	n := a.Len()
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	if a.DataType().ID() == arrow.NULL {
		memory.Set(buf.Bytes(), 0)
	} else {
		bitutil.CopyBitmap(a.NullBitmapBytes(), a.Data().Offset(), n, buf.Bytes(), 0)
	}
	return buf, a.NullN()
}

// strSlice is polars' str.slice(offset, length): by character; a negative
// offset counts from the end (clamped to the start); a null length takes
// the rest.
func strSlice(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	offset, okOff, err := intArg("str.slice", "offset", args[1])
	if err != nil {
		return nil, err
	}
	length, hasLen, err := intArg("str.slice", "length", args[2])
	if err != nil {
		return nil, err
	}
	if !okOff {
		return nullLike(args[0]), nil
	}
	if hasLen && length < 0 {
		return nil, invalid("str.slice length must not be negative, got %d", length)
	}
	return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
		start := offset
		if start < 0 {
			start = max(int64(utf8enc.RuneCountInString(s))+start, 0)
		}
		pos, i := 0, int64(0)
		for i < start && pos < len(s) {
			_, w := utf8enc.DecodeRuneInString(s[pos:])
			pos, i = pos+w, i+1
		}
		if i < start {
			return dst, true // starts past the end: empty
		}
		s = s[pos:]
		if !hasLen {
			return append(dst, s...), true
		}
		end := 0
		for i = 0; i < length && end < len(s); i++ {
			_, w := utf8enc.DecodeRuneInString(s[end:])
			end += w
		}
		return append(dst, s[:end]...), true
	})
}

// nullLike is a null of d's type, standing for every row.
func nullLike(d compute.Datum) compute.Datum {
	return compute.NewDatum(scalar.MakeNullScalar(datumType(d)))
}

// stripChars trims whitespace, or the given characters, from both ends.
func stripChars(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	if len(args) == 1 {
		return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
			return append(dst, strings.TrimSpace(s)...), true
		})
	}
	chars, ok, err := stringArg("strip_chars", "characters", args[1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
			return append(dst, strings.TrimSpace(s)...), true
		})
	}
	return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
		return append(dst, strings.Trim(s, chars)...), true
	})
}

// replaceFn replaces the first (or every) match of a literal or regular
// expression pattern. An empty literal pattern changes nothing, as in
// DuckDB.
func replaceFn(fn string, regex, all bool) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		pat, okP, err := stringArg(fn, "pattern", args[1])
		if err != nil {
			return nil, err
		}
		val, okV, err := stringArg(fn, "value", args[2])
		if err != nil {
			return nil, err
		}
		if !okP || !okV {
			return nullLike(args[0]), nil
		}
		if !regex {
			return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
				switch {
				case pat == "":
					return append(dst, s...), true
				case all:
					return append(dst, strings.ReplaceAll(s, pat, val)...), true
				}
				return append(dst, strings.Replace(s, pat, val, 1)...), true
			})
		}
		re, err := compileRegex(fn, pat)
		if err != nil {
			return nil, err
		}
		return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
			if all {
				return append(dst, re.ReplaceAllString(s, val)...), true
			}
			loc := re.FindStringSubmatchIndex(s)
			if loc == nil {
				return append(dst, s...), true
			}
			dst = append(dst, s[:loc[0]]...)
			dst = re.ExpandString(dst, val, s, loc)
			return append(dst, s[loc[1]:]...), true
		})
	}
}

// regexpExtract is polars' str.extract: the text of one capture group of
// the first match, null when there is no match or the group took no part.
func regexpExtract(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	pat, okP, err := stringArg("str.extract", "pattern", args[1])
	if err != nil {
		return nil, err
	}
	group, okG, err := intArg("str.extract", "group_index", args[2])
	if err != nil {
		return nil, err
	}
	if !okP || !okG {
		return nullLike(args[0]), nil
	}
	re, err := compileRegex("str.extract", pat)
	if err != nil {
		return nil, err
	}
	if group < 0 || group > int64(re.NumSubexp()) {
		return nil, invalid("str.extract: group_index %d is out of range: the pattern %q has %d group(s); use 0 for the whole match", group, pat, re.NumSubexp())
	}
	return mapDatum(ctx, args[0], func(dst []byte, s string) ([]byte, bool) {
		loc := re.FindStringSubmatchIndex(s)
		if loc == nil || loc[2*group] < 0 {
			return dst, false
		}
		return append(dst, s[loc[2*group]:loc[2*group+1]]...), true
	})
}

// resolveConcatStr checks concat_str(v1, ..., vN, separator, ignore_nulls):
// values of any type are formatted as text.
func resolveConcatStr(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	k := len(in) - 2
	if !IsNull(in[k]) && !IsString(in[k]) {
		return nil, nil, invalid("concat_str's separator must be a string, got %s", TypeName(in[k]))
	}
	if in[k+1].ID() != arrow.BOOL {
		return nil, nil, invalid("concat_str's ignore_nulls must be a boolean, got %s", TypeName(in[k+1]))
	}
	out := arrow.DataType(arrow.BinaryTypes.String)
	for _, t := range in[:k] {
		switch {
		case t.ID() == arrow.STRING || IsNull(t):
		case t.ID() == arrow.LIST, t.ID() == arrow.STRUCT, t.ID() == arrow.BINARY:
			return nil, nil, invalid("concat_str cannot format %s as text", TypeName(t))
		default:
			out = arrow.BinaryTypes.LargeString
		}
	}
	args := repeat(out, len(in))
	for i, t := range in[:k] {
		if t.ID() == arrow.DECIMAL128 {
			args[i] = t // Arrow casts no decimal to text: concatStr formats it
		}
	}
	args[k+1] = arrow.FixedWidthTypes.Boolean
	return out, args, nil
}

func concatStr(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	k := len(args) - 2
	sep, okSep, err := stringArg("concat_str", "separator", args[k])
	if err != nil {
		return nil, err
	}
	ign := constant(args[k+1])
	if ign == nil {
		return nil, invalid("concat_str's ignore_nulls must be a constant")
	}
	ignoreNulls := ign.IsValid() && ign.(*scalar.Boolean).Value
	if !okSep {
		return nullLike(args[0]), nil
	}
	n, anyArray := rowCount(args[:k])
	mem := Allocator(ctx)
	arrs, release, err := asArrays(mem, args[:k], n)
	if err != nil {
		return nil, err
	}
	defer release()
	outType := arrow.DataType(arrow.BinaryTypes.String)
	for _, a := range arrs {
		if a.DataType().ID() != arrow.STRING {
			outType = arrow.BinaryTypes.LargeString
		}
	}
	for j, a := range arrs {
		if a.DataType().ID() == arrow.DECIMAL128 {
			arrs[j] = decimalText(mem, a.(*array.Decimal128))
			defer arrs[j].Release()
		}
	}
	var out arrow.Array
	if outType.ID() == arrow.STRING {
		out, err = concatLoop[int32](mem, arrs, sep, ignoreNulls, n)
	} else {
		out, err = concatLoop[int64](mem, arrs, sep, ignoreNulls, n)
	}
	if err != nil {
		return nil, err
	}
	return result(out, anyArray)
}

// decimalText formats decimals as large_utf8 text, "-12.30" for -12.30 at scale 2.
func decimalText(mem memory.Allocator, a *array.Decimal128) arrow.Array {
	scale := a.DataType().(*arrow.Decimal128Type).Scale
	out := newStrOut[int64](mem, arrow.BinaryTypes.LargeString, a.Len(), 0)
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			out.appendNull()
		} else {
			out.append(a.Value(i).ToString(scale))
		}
	}
	arr, _ := out.finish() // int64 offsets always fit
	return arr
}

func concatLoop[O int32 | int64](mem memory.Allocator, arrs []arrow.Array, sep string, ignoreNulls bool, n int) (arrow.Array, error) {
	views := make([]strView[O], len(arrs))
	bytes := 0
	for j, a := range arrs {
		if a.DataType().ID() == arrow.NULL {
			views[j] = strView[O]{offs: make([]O, n+1), valid: make([]byte, (n+7)/8)}
			continue
		}
		views[j] = viewOf[O](a)
		bytes += int(views[j].offs[n] - views[j].offs[0])
	}
	out := newStrOut[O](mem, arrs[0].DataType(), n, bytes+n*len(sep)*(len(arrs)-1))
	if arrs[0].DataType().ID() == arrow.NULL {
		out.dt = arrow.BinaryTypes.String
	}
rows:
	for i := 0; i < n; i++ {
		start := len(out.data)
		first := true
		for j := range views {
			if !views[j].isValid(i) {
				if ignoreNulls {
					continue
				}
				out.data = out.data[:start]
				out.appendNull()
				continue rows
			}
			if !first {
				out.data = append(out.data, sep...)
			}
			first = false
			out.data = append(out.data, views[j].at(i)...)
		}
		out.endRow()
	}
	return out.finish()
}
