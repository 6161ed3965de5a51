// Package compute is Sibyl's core: the intent models, as pure functions
// and data structures over dense indices. It does no I/O, reads no clock
// and uses no global randomness: times and seeds are arguments, so every
// replica that builds from the same data version gets the same model.
//
// Indices: users (customers) and items are dense int32 indices chosen by
// the caller, which maps its string ids to them and back. Indices may grow
// between builds; structures grow with them.
//
// The pieces, and who calls what:
//
//   - Stats (CoPurchase for orders, CoPurchase for co-viewed sessions,
//     Popularity) is live and mutable: the store engine calls
//     Stats.AddOrder / AddSession on every applied write, so counts,
//     most_sold_with, popularity and trending are fresh at once. Safe for
//     concurrent use; queries scan one item's neighbour row or the item
//     list, never waiting for training. A row is a sorted compact array
//     (corow.go): memory per store bounds the stores per node.
//   - Model is immutable and built in the background by BuildModel from a
//     Snapshot (orders, events, item attributes) at a data version
//     (Model.Version): the ALS factors (TrainALS: Hu, Koren and Volinsky
//     2008 solved by conjugate gradient after Takács et al. 2011, float32
//     (4K bytes per user and per item), gonum BLAS on each row's
//     gathered block, parallel and deterministic for a seed whatever the
//     worker count) with the inverse
//     used by fold-in, precomputed substitute lists, complement lists
//     (each item's complements chosen by greedy soft coverage of its past
//     baskets with customer co-occurrence, recent popularity and factor
//     cosine, coverage.go; recency-weighted co-purchase and customer
//     partners and factor-cosine neighbours for the ranked blend), and
//     the training matrix for audience exclusion.
//     The caller publishes it with an atomic pointer swap (node's model
//     loop), when RetrainPolicy says so (changes since the last build,
//     model age).
//   - Queries: Model.Complementary (the coverage list, then live
//     co-purchase blended with the built partners and factor cosine,
//     scored over candidate lists rather than the catalog),
//     Model.ComplementaryPrecomputed (the list frozen at build time, a
//     slice copy),
//     CoPurchase.MostSoldWith (raw counts), Model.Substitutes and
//     SubstitutesFor (customer/substituting), Model.Recommend with a
//     UserVector (customer/complementary) or with FoldIn of a visitor's
//     viewed/clicked/carted items (a real-time least-squares solve by the
//     Woodbury identity on a per-model inverse, no retrain), Model.Audience (customers most likely to want a product
//     set, excluding recent buyers), Popularity.Popular and Trending.
//     Query methods take a caller-owned scratch slice and append to a
//     caller-owned dst, so a hot path allocates nothing proportional to
//     the catalog.
//
// Quality is measured by bench/quality (`sibyl eval`); the protocols and
// numbers are in docs/quality.md.
package compute
