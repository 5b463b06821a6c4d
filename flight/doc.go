// Package flight is a node's Arrow Flight service: it decodes commands and
// tickets (docs/protocol.md), hands them to the scheduler's Engine, streams
// results from the operators' batches as they are (no row conversion, no
// extra copy), and maps error kinds to gRPC codes. A panic in a handler is
// recovered and returned as Internal; the server stays up.
//
// It also owns the node's HTTP side (http.go): the dashboard, whose static
// files in dashboard/ are embedded in the binary, its read-only JSON API,
// and Prometheus /metrics (metrics.go), all behind GuardHTTP.
package flight
