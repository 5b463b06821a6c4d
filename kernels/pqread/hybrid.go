package pqread

import (
	"encoding/binary"
	"errors"
)

var errTruncated = errors.New("parquet: page ends inside its values (corrupt page?)")

// hybrid decodes Parquet's RLE / bit-packing hybrid encoding of unsigned
// values of one bit width (dictionary indices, definition levels).
type hybrid struct {
	data  []byte // what follows the current run
	width uint
	// the current run: rle values equal to val, or packed values of run
	// starting at bit
	rle    int
	val    uint32
	packed int
	run    []byte
	bit    uint64
}

func (h *hybrid) reset(data []byte, width uint) {
	*h = hybrid{data: data, width: width}
}

// decode fills out with the next len(out) values.
func (h *hybrid) decode(out []uint32) error {
	for len(out) > 0 {
		switch {
		case h.rle > 0:
			k := min(h.rle, len(out))
			v := h.val
			for i := range out[:k] {
				out[i] = v
			}
			out, h.rle = out[k:], h.rle-k
		case h.packed > 0:
			k := min(h.packed, len(out))
			unpack(out[:k], h.run, h.bit, h.width)
			h.bit += uint64(k) * uint64(h.width)
			out, h.packed = out[k:], h.packed-k
		default:
			if err := h.header(); err != nil {
				return err
			}
		}
	}
	return nil
}

// runOf passes over the next n values if they are all v, within the
// current run, and says whether it did.
func (h *hybrid) runOf(n int, v uint32) (bool, error) {
	for h.rle == 0 && h.packed == 0 {
		if err := h.header(); err != nil {
			return false, err
		}
	}
	if h.rle < n || h.val != v {
		return false, nil
	}
	h.rle -= n
	return true, nil
}

// skip passes over the next n values.
func (h *hybrid) skip(n int) error {
	for n > 0 {
		switch {
		case h.rle > 0:
			k := min(h.rle, n)
			n, h.rle = n-k, h.rle-k
		case h.packed > 0:
			k := min(h.packed, n)
			h.bit += uint64(k) * uint64(h.width)
			n, h.packed = n-k, h.packed-k
		default:
			if err := h.header(); err != nil {
				return err
			}
		}
	}
	return nil
}

// gather passes over the next n values, reading into out[k] the value
// picks[k]-base of them (picks ascending): a few values of many cost their
// runs' headers and one load each, not an unpacking of every value.
func (h *hybrid) gather(n int, picks []int64, base int64, out []uint32) error {
	k, pos := 0, base // pos: the number, counted from base, of the next value
	for n > 0 {
		switch {
		case h.rle > 0:
			run := min(h.rle, n)
			for ; k < len(picks) && picks[k] < pos+int64(run); k++ {
				out[k] = h.val
			}
			pos, n, h.rle = pos+int64(run), n-run, h.rle-run
		case h.packed > 0:
			run := min(h.packed, n)
			for ; k < len(picks) && picks[k] < pos+int64(run); k++ {
				bit := h.bit + uint64(picks[k]-pos)*uint64(h.width)
				unpack(out[k:k+1], h.run, bit, h.width)
			}
			h.bit += uint64(run) * uint64(h.width)
			pos, n, h.packed = pos+int64(run), n-run, h.packed-run
		default:
			if err := h.header(); err != nil {
				return err
			}
		}
	}
	return nil
}

// header starts the next run.
func (h *hybrid) header() error {
	hdr, n := binary.Uvarint(h.data)
	if n <= 0 {
		return errTruncated
	}
	h.data = h.data[n:]
	if hdr&1 == 0 { // a run of one value, in whole bytes
		nb := int(h.width+7) / 8
		if len(h.data) < nb {
			return errTruncated
		}
		var v uint32
		for i := 0; i < nb; i++ {
			v |= uint32(h.data[i]) << (8 * i)
		}
		h.rle, h.val, h.data = int(hdr>>1), v, h.data[nb:]
		return nil
	}
	// groups of 8 bit-packed values; the last run may stop short of its
	// padding, so count only the values its bytes hold
	groups := hdr >> 1
	if groups == 0 {
		return nil
	}
	nb := min(groups*uint64(h.width), uint64(len(h.data)))
	h.run, h.data, h.bit = h.data[:nb], h.data[nb:], 0
	vals := groups * 8
	if h.width > 0 {
		vals = min(vals, nb*8/uint64(h.width))
	}
	if vals == 0 {
		return errTruncated
	}
	h.packed = int(vals)
	return nil
}

// unpack reads len(dst) values of width bits from src, starting at bit.
// A width is at most 32, so a value lies within 8 bytes of its first.
func unpack(dst []uint32, src []byte, bit uint64, width uint) {
	done := unpackLoads(dst, src, bit, width)
	bit += uint64(done) * uint64(width)
	mask := uint64(1)<<width - 1
	for i := done; i < len(dst); i++ { // near the end: byte by byte
		b := bit >> 3
		var word uint64
		for j := uint64(0); j < 8 && b+j < uint64(len(src)); j++ {
			word |= uint64(src[b+j]) << (8 * j)
		}
		dst[i] = uint32(word >> (bit & 7) & mask)
		bit += uint64(width)
	}
}

// unpackLoads unpacks values while a whole 8-byte load fits in src, and
// says how many. Written so that the compiler drops the bounds checks
// (b <= last, a range loop): three times faster than src[b:] in an
// indexed loop.
func unpackLoads(dst []uint32, src []byte, bit uint64, width uint) int {
	mask := uint64(1)<<width - 1
	if len(src) < 8 {
		return 0
	}
	last := uint64(len(src) - 8)
	for i := range dst {
		b := bit >> 3
		if b > last {
			return i
		}
		dst[i] = uint32(binary.LittleEndian.Uint64(src[b:b+8]) >> (bit & 7) & mask)
		bit += uint64(width)
	}
	return len(dst)
}
