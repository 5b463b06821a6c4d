package expr

import "testing"

// Booleans order as false < true; Arrow's cast to uint8 (which the order
// comparisons used) ignored a slice's offset.
func TestBoolOrderSliced(t *testing.T) {
	runFn(t, []fnCase{
		{name: "lt", fn: "lt", args: []fnArg{c(boo, `[true, false, null, true, false, false, true]`), c(boo, `[true, true, true, false, false, null, true]`)},
			want: []any{false, true, nil, false, false, nil, false}},
		{name: "ge", fn: "ge", args: []fnArg{c(boo, `[true, false, null, true, false, false, true]`), c(boo, `[true, true, true, false, false, null, true]`)},
			want: []any{true, false, nil, true, true, nil, true}},
	})
}
