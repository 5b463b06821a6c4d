package expr

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/scalar"
)

func TestStringFunctions(t *testing.T) {
	words := `["apple", "", null, "Ångström", "naïve café", "東京🙂", "banana", "a%b_c"]`
	s := c(utf8, words)
	L := c(lstr, words)
	runFn(t, []fnCase{
		{name: "contains", fn: "contains", args: []fnArg{s, ls("an")},
			want: []any{false, false, nil, false, false, false, true, false}, wantType: boo},
		{name: "contains_empty", fn: "contains", args: []fnArg{L, ls("")},
			want: []any{true, true, nil, true, true, true, true, true}},
		{name: "contains_regex_chars_literally", fn: "contains", args: []fnArg{s, ls("%b_")},
			want: []any{false, false, nil, false, false, false, false, true}},
		{name: "contains_null_pattern", fn: "contains", args: []fnArg{s, lnull()},
			want: []any{nil, nil, nil, nil, nil, nil, nil, nil}},
		{name: "contains_column_pattern", fn: "contains",
			args: []fnArg{c(utf8, `["abc", "abc", null, "xyz"]`), c(utf8, `["b", "d", "a", null]`)},
			want: []any{true, false, nil, nil}},
		{name: "starts_with", fn: "starts_with", args: []fnArg{L, ls("Å")},
			want: []any{false, false, nil, true, false, false, false, false}},
		{name: "ends_with", fn: "ends_with", args: []fnArg{s, ls("🙂")},
			want: []any{false, false, nil, false, false, true, false, false}},
		{name: "regexp_matches", fn: "regexp_matches", args: []fnArg{s, ls(`^[a-z]+$`)},
			want: []any{true, false, nil, false, false, false, true, false}},
		{name: "regexp_matches_unicode", fn: "regexp_matches", args: []fnArg{L, ls(`é|京`)},
			want: []any{false, false, nil, false, true, true, false, false}},
		{name: "regexp_bad", fn: "regexp_matches", args: []fnArg{s, ls(`(`)}, errHas: "not a valid regular expression"},
		{name: "like_prefix", fn: "like", args: []fnArg{s, ls("a%")},
			want: []any{true, false, nil, false, false, false, false, true}},
		{name: "like_middle", fn: "like", args: []fnArg{s, ls("%an%a")},
			want: []any{false, false, nil, false, false, false, true, false}},
		{name: "like_underscore", fn: "like", args: []fnArg{L, ls("東_🙂")},
			want: []any{false, false, nil, false, false, true, false, false}},
		{name: "like_exact", fn: "like", args: []fnArg{s, ls("")},
			want: []any{false, true, nil, false, false, false, false, false}},
		{name: "like_all", fn: "like", args: []fnArg{s, ls("%")},
			want: []any{true, true, nil, true, true, true, true, true}},
		{name: "like_overlap", fn: "like", args: []fnArg{c(utf8, `["aa", "a", "aXa"]`), ls("a%a")},
			want: []any{true, false, true}},
		{name: "like_special", fn: "like", args: []fnArg{s, ls("a.%")},
			want: []any{false, false, nil, false, false, false, false, false}},
		{name: "lower", fn: "lower", args: []fnArg{s},
			want: []any{"apple", "", nil, "ångström", "naïve café", "東京🙂", "banana", "a%b_c"}, wantType: utf8},
		{name: "upper", fn: "upper", args: []fnArg{L},
			want: []any{"APPLE", "", nil, "ÅNGSTRÖM", "NAÏVE CAFÉ", "東京🙂", "BANANA", "A%B_C"}, wantType: lstr},
		{name: "len_chars", fn: "len_chars", args: []fnArg{s},
			want: []any{int64(5), int64(0), nil, int64(8), int64(10), int64(3), int64(6), int64(5)}, wantType: i64},
		{name: "len_bytes", fn: "len_bytes", args: []fnArg{L},
			want: []any{int64(5), int64(0), nil, int64(10), int64(12), int64(10), int64(6), int64(5)}},
		{name: "slice", fn: "str_slice", args: []fnArg{s, li(1), li(3)},
			want: []any{"ppl", "", nil, "ngs", "aïv", "京🙂", "ana", "%b_"}},
		{name: "slice_rest", fn: "str_slice", args: []fnArg{L, li(5), lnull()},
			want: []any{"", "", nil, "röm", " café", "", "a", ""}},
		{name: "slice_negative", fn: "str_slice", args: []fnArg{s, li(-2), lnull()},
			want: []any{"le", "", nil, "öm", "fé", "京🙂", "na", "_c"}},
		{name: "slice_negative_past_start", fn: "str_slice", args: []fnArg{s, li(-7), li(2)},
			want: []any{"ap", "", nil, "ng", "ve", "東京", "ba", "a%"}},
		{name: "slice_negative_length", fn: "str_slice", args: []fnArg{s, li(0), li(-1)}, errHas: "must not be negative"},
		{name: "slice_column_offset", fn: "str_slice", args: []fnArg{s, c(i64, `[1, 2, 3, 4, 5, 6, 7, 8]`), li(1)}, errHas: "must be a constant"},
		{name: "strip", fn: "strip_chars", args: []fnArg{c(utf8, `["  a b  ", "\t\nx\u3000", "", null, "   "]`)},
			want: []any{"a b", "x", "", nil, ""}},
		{name: "strip_chars", fn: "strip_chars", args: []fnArg{L, ls("aeé")},
			want: []any{"ppl", "", nil, "Ångström", "naïve caf", "東京🙂", "banan", "%b_c"}},
		{name: "replace_literal", fn: "replace", args: []fnArg{s, ls("a"), ls("[$1]")},
			want: []any{"[$1]pple", "", nil, "Ångström", "n[$1]ïve café", "東京🙂", "b[$1]nana", "[$1]%b_c"}},
		{name: "replace_all_literal", fn: "replace_all", args: []fnArg{L, ls("an"), ls("")},
			want: []any{"apple", "", nil, "Ångström", "naïve café", "東京🙂", "ba", "a%b_c"}},
		{name: "replace_empty_pattern", fn: "replace_all", args: []fnArg{s, ls(""), ls("x")},
			want: []any{"apple", "", nil, "Ångström", "naïve café", "東京🙂", "banana", "a%b_c"}},
		{name: "regexp_replace", fn: "regexp_replace", args: []fnArg{s, ls(`([aeiou])`), ls("<$1>")},
			want: []any{"<a>pple", "", nil, "Ångström", "n<a>ïve café", "東京🙂", "b<a>nana", "<a>%b_c"}},
		{name: "regexp_replace_all", fn: "regexp_replace_all", args: []fnArg{L, ls(`[aeiou]`), ls("")},
			want: []any{"ppl", "", nil, "Ångström", "nïv cfé", "東京🙂", "bnn", "%b_c"}},
		{name: "extract", fn: "regexp_extract", args: []fnArg{s, ls(`(a)(n)?`), li(2)},
			want: []any{nil, nil, nil, nil, nil, nil, "n", nil}},
		{name: "extract_whole", fn: "regexp_extract", args: []fnArg{L, ls(`[^ ]+$`), li(0)},
			want: []any{"apple", nil, nil, "Ångström", "café", "東京🙂", "banana", "a%b_c"}},
		{name: "extract_bad_group", fn: "regexp_extract", args: []fnArg{s, ls(`(a)`), li(2)}, errHas: "has 1 group(s)"},
		{name: "concat", fn: "concat_str",
			args: []fnArg{s, c(i64, `[1, 2, 3, null, 5, 6, 7, 8]`), ls("-"), l(scalar.NewBooleanScalar(false))},
			want: []any{"apple-1", "-2", nil, nil, "naïve café-5", "東京🙂-6", "banana-7", "a%b_c-8"}, wantType: lstr},
		{name: "concat_ignore_nulls", fn: "concat_str",
			args: []fnArg{s, c(utf8, `["x", null, "y", null, "", "z", null, null]`), ls(""), l(scalar.NewBooleanScalar(true))},
			want: []any{"applex", "", "y", "Ångström", "naïve café", "東京🙂z", "banana", "a%b_c"}, wantType: utf8},
		{name: "concat_literals", fn: "concat_str",
			args: []fnArg{ls("a"), ls("b"), ls(", "), l(scalar.NewBooleanScalar(false))},
			want: []any{"a, b", "a, b"}},
		{name: "not_a_string", fn: "lower", args: []fnArg{c(i64, `[1]`)}, errHas: "lower needs a string, got int64"},
		{name: "pattern_not_a_string", fn: "contains", args: []fnArg{s, li(1)}, errHas: "argument 2 of contains must be a string, got int64"},
	})
}

// A pattern of literals joined by .* is matched without the regexp
// package; its answers must be the package's, newlines, repeats, overlaps
// and unicode included. Other patterns keep the package's matcher.
func TestLiteralChainMatchesAsRegexp(t *testing.T) {
	chains := map[string][]string{
		"special.*requests": {"special", "requests"},
		"ü":                 {"ü"},
		"a.*a.*a":           {"a", "a", "a"},
		"aa.*aa":            {"aa", "aa"},
		"x.*":               nil, // ends in .*
		"(?s)a.*b":          nil, // . matches newlines
		"(?i)a.*b":          nil,
		"a.+b":              nil,
		"^a.*b":             nil,
		"a\\n.*b":           nil,
		"":                  nil,
	}
	texts := []string{"", "special requests", "specialrequests", "requests special", "special\nrequests",
		"special x\nspecial y requests", "a", "aa", "aaa", "aaaa", "a\na\na", "aXaYa", "ü", "xü", "x", "ab", "a\nb",
		"special requests\n", "\nspecial requests", "carefully special packages sleep. requests"}
	for p, want := range chains {
		lits, ok := literalChain(p)
		if ok != (want != nil) || ok && fmt.Sprint(lits) != fmt.Sprint(want) {
			t.Errorf("%q: chain %q %v, want %q", p, lits, ok, want)
		}
		match, err := regexMatcher(p)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(p)
		for _, s := range texts {
			if got := match(s); got != re.MatchString(s) {
				t.Errorf("%q on %q: %v, the regexp package says %v", p, s, got, !got)
			}
		}
	}
}
