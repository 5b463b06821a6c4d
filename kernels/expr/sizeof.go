package expr

import "unsafe"

func unsafeSizeof[T any]() uintptr {
	var zero T
	return unsafe.Sizeof(zero)
}
