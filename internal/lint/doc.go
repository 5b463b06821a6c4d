// Package lint holds tests that check the architecture: which package may
// import which (layers_test.go). It has no code of its own.
package lint
