//go:build !(amd64 || arm64)

package exec

import "encoding/binary"

// le64 is the 8 bytes of s from i on as a little-endian word.
func le64(s string, i int) uint64 { return binary.LittleEndian.Uint64([]byte(s[i : i+8])) }
