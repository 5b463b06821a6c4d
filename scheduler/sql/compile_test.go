package sql

import (
	"strings"
	"testing"

	"slipstream/kernels"
)

// A syntax error shows the line and column of the token the parser
// stopped at, and a caret under it, counting characters, not bytes.
func TestSyntaxErrorPointsAtTheToken(t *testing.T) {
	for _, c := range []struct{ text, where, caret string }{
		{"SELECT a FROM t WHER b", "line 1, column 22", "  SELECT a FROM t WHER b\n                       ^"},
		{"SELECT 'ü'\nFROM t\nWHERE a >", "line 3, column 10", "  WHERE a >\n           ^"},
		{"SELECT 'ü', x y z FROM t", "line 1, column 17", "  SELECT 'ü', x y z FROM t\n                  ^"},
	} {
		_, err := Compile(c.text, nil, nil)
		if kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), c.where) || !strings.Contains(err.Error(), c.caret) {
			t.Errorf("%q: got\n%v\nwant %s and\n%s", c.text, err, c.where, c.caret)
		}
	}
}

// Statements the front end does not compile yet say which.
func TestOtherStatementsAreNamed(t *testing.T) {
	for text, want := range map[string]string{
		"CREATE TABLE x (a int)":      "CREATE TABLE changes tables",
		"DROP TABLE x":                "DROP TABLE changes tables",
		"UPDATE x SET a = 1":          "UPDATE statements are not supported",
		"DELETE FROM x":               "DELETE statements are not supported",
		"SELECT 1; SELECT 2":          "want one statement",
		"SELECT a FROM t WINDOW w AS": "syntax error",
	} {
		_, err := Compile(text, nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want it to name %s", text, err, want)
		}
	}
}

// DuckDB's GROUP BY ALL is rewritten to a marker of the same length, and
// only where it stands as the whole GROUP BY list.
func TestGroupByAll(t *testing.T) {
	for in, want := range map[string]string{
		"select a, sum(b) from t group by all":           `select a, sum(b) from t group by "*"`,
		"select a from t GROUP BY ALL order by a":        `select a from t GROUP BY "*" order by a`,
		"select a from t group by all_columns":           "select a from t group by all_columns",
		"select a from t group by all a, b":              "select a from t group by all a, b",
		"select * from (select a from t group by all) s": `select * from (select a from t group by "*") s`,
	} {
		if got := groupByAll.ReplaceAllString(in, `$1"*"$2`); got != want || len(got) != len(in) {
			t.Errorf("%q: got %q, want %q (same length)", in, got, want)
		}
	}
}
