package scheduler

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"slipstream/scheduler/cluster"
)

// A node's metrics, through the OpenTelemetry metric API: every
// instrument is made here and fed by three hooks (a query registered, a
// query ended, an upload stored); the gauges are read from the memory
// pool and the membership when collected. The exporter (Prometheus, in
// the flight layer) is the Engine's MeterProvider; without one the
// instruments are no-ops.

// metrics are the instruments of one node.
type metrics struct {
	started, ended, tasks        metric.Int64Counter
	bytesRead, shuffled, spilled metric.Int64Counter
	uploadRows, uploadBytes      metric.Int64Counter
	latency                      metric.Float64Histogram
}

var (
	attrState = attribute.Key("state")
	attrKind  = attribute.Key("kind")
)

// newMetrics builds the instruments from e.MeterProvider (init).
func (e *Engine) newMetrics() *metrics {
	mp := e.MeterProvider
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter("slipstream/scheduler")
	x := &metrics{}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, _ := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return c
	}
	x.started = counter("slipstream.queries.started", "{query}", "queries this node coordinated, by the time they were registered")
	x.ended = counter("slipstream.queries.ended", "{query}", "queries this node coordinated that ended, by state: done, failed or cancelled")
	x.tasks = counter("slipstream.tasks", "{task}", "task attempts of the queries this node coordinated (a query run by this node alone is one task)")
	x.bytesRead = counter("slipstream.read", "By", "bytes the tasks of this node's cluster queries read: stored partitions and shuffle outputs")
	x.shuffled = counter("slipstream.shuffled", "By", "bytes this node's cluster queries sent between nodes")
	x.spilled = counter("slipstream.spilled", "By", "bytes this node's queries wrote to spill files")
	x.uploadRows = counter("slipstream.upload.rows", "{row}", "rows of uploads this node received and stored")
	x.uploadBytes = counter("slipstream.upload", "By", "Arrow bytes of uploads this node received and stored")
	x.latency, _ = m.Float64Histogram("slipstream.query.duration", metric.WithUnit("s"),
		metric.WithDescription("how long the queries this node coordinated ran, by how they ended"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900))
	mem, _ := m.Int64ObservableGauge("slipstream.memory", metric.WithUnit("By"),
		metric.WithDescription("the node's memory pool: kind=used (Arrow buffers and reservations), reserved (the reservations alone: operators' tables) or limit"))
	spillNow, _ := m.Int64ObservableGauge("slipstream.spill.on_disk", metric.WithUnit("By"),
		metric.WithDescription("bytes of the node's spill files on disk now"))
	members, _ := m.Int64ObservableGauge("slipstream.cluster.members", metric.WithUnit("{node}"),
		metric.WithDescription("members of the cluster as this node sees them, by state"))
	_, _ = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := e.Memory.Stats()
		o.ObserveInt64(mem, st.Used, metric.WithAttributes(attrKind.String("used")))
		o.ObserveInt64(mem, st.Limit, metric.WithAttributes(attrKind.String("limit")))
		o.ObserveInt64(mem, st.Reserved, metric.WithAttributes(attrKind.String("reserved")))
		o.ObserveInt64(spillNow, st.Spilled)
		count := map[cluster.State]int64{cluster.Alive: 0, cluster.Failed: 0, cluster.Leaving: 0, cluster.Left: 0}
		all := []cluster.Member{e.Self}
		if e.Members != nil {
			all = e.Members.Members()
		}
		for _, mb := range all {
			count[mb.State]++
		}
		for s, n := range count {
			o.ObserveInt64(members, n, metric.WithAttributes(attrState.String(string(s))))
		}
		return nil
	}, mem, spillNow, members)
	return x
}

// queryStarted counts a query newly registered.
func (m *metrics) queryStarted() {
	if m != nil {
		m.started.Add(context.Background(), 1)
	}
}

// queryEnded counts a query that reached done, failed or cancelled, with
// its figures; r.mu is held. A query is counted once.
func (m *metrics) queryEnded(r *queryRun) {
	if m == nil {
		return
	}
	st := r.status
	switch st.State {
	case queryDone, queryFailed, queryCancelled:
	default:
		return
	}
	if r.metered {
		return
	}
	r.metered = true
	ctx := context.Background()
	state := metric.WithAttributes(attrState.String(st.State))
	m.ended.Add(ctx, 1, state)
	m.latency.Record(ctx, st.Seconds, state)
	switch {
	case r.core != nil:
		tasks := 0
		for _, p := range r.core.progress() {
			tasks += p.Attempts
		}
		m.tasks.Add(ctx, int64(tasks))
		m.bytesRead.Add(ctx, r.read.bytes)
		m.shuffled.Add(ctx, st.Shuffled)
		m.spilled.Add(ctx, r.read.spilled)
	case r.local != nil:
		m.tasks.Add(ctx, 1)
		r.local.mu.Lock()
		spilled := r.local.spilled
		r.local.mu.Unlock()
		m.spilled.Add(ctx, spilled)
	}
}

// uploaded counts an upload stored.
func (m *metrics) uploaded(rows, bytes int64) {
	if m == nil {
		return
	}
	ctx := context.Background()
	m.uploadRows.Add(ctx, rows)
	m.uploadBytes.Add(ctx, bytes)
}
