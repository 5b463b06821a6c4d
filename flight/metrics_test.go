package flight

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
)

// BenchmarkQueryMetrics is what the metrics add to every query: a query
// registered and ended (Track, then Failed: the two hooks a query passes),
// with the Prometheus-exported provider and without any.
func BenchmarkQueryMetrics(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "off"
		if withMetrics {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			cat, err := catalog.Open(b.TempDir(), memory.NewGoAllocator(), "n1")
			if err != nil {
				b.Fatal(err)
			}
			e := &scheduler.Engine{Catalog: cat, Mem: memory.NewGoAllocator()}
			if withMetrics {
				m, err := NewMetrics()
				if err != nil {
					b.Fatal(err)
				}
				defer m.Shutdown(b.Context())
				e.MeterProvider = m.Provider()
			}
			bad := errors.New("plan failed")
			b.ReportAllocs()
			for range b.N {
				id, err := e.Track(context.Background(), "")
				if err != nil {
					b.Fatal(err)
				}
				e.Failed(id, bad)
			}
		})
	}
}
