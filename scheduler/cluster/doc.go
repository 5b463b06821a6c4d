// Package cluster is the node's view of cluster membership. It is the only
// package that imports Serf: the scheduler sees the Membership interface,
// backed either by real gossip (Start) or by an in-memory Fake for tests.
//
// Each member advertises its Flight address and capacity as Serf tags
// ("flight", "cores", "mem"). Only Alive members should receive work;
// failed and left members stay listed so that status pages and the
// coordinator can name what was lost.
package cluster
