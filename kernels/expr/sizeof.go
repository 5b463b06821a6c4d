package expr

import "unsafe"

func unsafeSizeof[T any]() uintptr {
	var zero T
	return unsafe.Sizeof(zero)
}

// MakeTouched is make([]T, n, c) with every page of its c elements written
// once. Memory fresh from the kernel that is read before it is written
// maps the shared zero page, and the first write then faults a second
// time and flushes the TLB of every core (an interrupt to each): a
// group-by of 10^8 groups spent a fifth of its time so, probing new hash
// slots and adding into new states.
func MakeTouched[T any](n, c int) []T {
	s := make([]T, n, c)
	var zero T
	step := max(1, 4096/int(unsafe.Sizeof(zero)))
	all := s[:c]
	for i := 0; i < c; i += step {
		all[i] = zero
	}
	return s
}
