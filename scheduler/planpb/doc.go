// Package planpb is the generated Go code of plan.proto, the one contract
// between the Python client and the server. Do not edit plan.pb.go:
// change plan.proto and run scripts/genproto.sh; fresh_test.go fails when
// the committed code is stale.
package planpb
