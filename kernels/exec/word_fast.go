//go:build amd64 || arm64

package exec

import "unsafe"

// le64 is the 8 bytes of s from i on as a little-endian word: one load
// (these machines are little-endian and load unaligned words at full
// speed), cheap enough that its callers are inlined where
// binary.LittleEndian's byte-by-byte form made them too costly.
func le64(s string, i int) uint64 {
	_ = s[i+7]
	return *(*uint64)(unsafe.Pointer(unsafe.StringData(s[i:])))
}
