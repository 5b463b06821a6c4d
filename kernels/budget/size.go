package budget

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

var units = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseBytes reads a size such as "4GiB", "512MB", "1.5g" or "1048576".
// KiB, MiB, GiB, TiB and the bare K, M, G, T are powers of 1024; KB, MB,
// GB, TB powers of 1000.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size: write a number of bytes with an optional unit, such as 4GiB, 512MiB or 2000000000", s)
	}
	return int64(v * mult), nil
}

// FormatBytes writes n in the largest binary unit that keeps it above 1.
func FormatBytes(n int64) string {
	const k = 1024
	switch {
	case n >= k*k*k*k:
		return fmt.Sprintf("%.1f TiB", float64(n)/(k*k*k*k))
	case n >= k*k*k:
		return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
	case n >= k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	case n >= k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	}
	return fmt.Sprintf("%d B", n)
}

// Available is the memory this process may really use: the limit of its
// cgroup (v2 memory.max or v1 memory.limit_in_bytes) when one is set and
// lower than the machine's, otherwise the machine's physical memory. 0 when
// neither can be read.
func Available() int64 {
	total := physical()
	for _, limit := range []int64{cgroupV2(), cgroupV1()} {
		if limit > 0 && (total == 0 || limit < total) {
			total = limit
		}
	}
	return total
}

func physical() int64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscanf(rest, "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

// cgroupPath is the process's cgroup for controller ("" for v2's unified one).
func cgroupPath(controller string) string {
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return parts[2]
			}
		}
	}
	return ""
}

func readLimit(file string) int64 {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil || v <= 0 || v >= 1<<60 { // "max", or v1's "no limit" (near 2^63)
		return 0
	}
	return v
}

func cgroupV2() int64 {
	if p := cgroupPath(""); p != "" {
		if v := readLimit("/sys/fs/cgroup" + p + "/memory.max"); v > 0 {
			return v
		}
	}
	return readLimit("/sys/fs/cgroup/memory.max")
}

func cgroupV1() int64 {
	if p := cgroupPath("memory"); p != "" {
		if v := readLimit("/sys/fs/cgroup/memory" + p + "/memory.limit_in_bytes"); v > 0 {
			return v
		}
	}
	return readLimit("/sys/fs/cgroup/memory/memory.limit_in_bytes")
}
