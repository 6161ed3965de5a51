// Package mirror decides what a complete Data Sync deletes: the records a
// store holds that the shop no longer has.
//
// A sync reads the shop and remembers, per kind, every id it read (Seen).
// When the read ended well, Plan compares those ids with the store's and
// lists the records to delete. The rules:
//
//   - Only kinds the source read completely are mirrored. An incremental
//     read, or a feed without a "pages" key, deletes nothing of the kinds
//     it did not read in full.
//   - Orders are history, not catalog: they are never deleted.
//   - A sync that failed half-way must never reach Plan: its Seen is
//     incomplete and would delete everything it did not get to.
//   - A re-run of the same source sees the same ids and deletes nothing.
//
// Why the safety valve: the one thing a mirror can do that an import
// cannot is destroy data, and the usual cause of a large deletion is not
// a shop that sold off its catalog but a broken source: a feed cut short
// by a proxy, an API key that sees one store view, a platform returning an
// empty page under load. Plan therefore refuses a sync that would delete
// more than Config.MaxDeleteShare (30%) of a kind's records, beyond a small
// floor so that a three-product test store can still drop one. The refusal
// (RefusedError) names the kind and the numbers, and says how to let it
// through (Config.AllowMassDelete) when the shop really did remove them.
//
// Why hashes: a store may hold millions of customers, and Seen lives for a
// whole sync. It keeps a 64-bit hash of each id in a slice, sorted once at
// the end, about 8-10 bytes per id instead of the 80 or so of a map of
// strings (see Seen for the collision trade-off).
package mirror
