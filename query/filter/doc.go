// Package filter implements Clerk.io's product filter language: parsing a
// filter string into an AST, evaluating it against a per-attribute bitmap
// index of a catalog, and matching it against a single product.
//
// # Syntax
//
// A filter is simple expressions `attribute operator value` combined with
// `and`, `or` and parentheses; `and` binds tighter than `or`:
//
//	brand = 'Imperial Inc.' and price > 100
//	on_sale = true or price < 49.95
//	tags contains "Special Offer"
//	on_sale = false or (categories not in [123, 456] and price <= 200)
//
// Operators: = != > >= < <= in, not in, contains. Values: single- or
// double-quoted strings (a backslash escapes the quote character or another
// backslash; no other escapes), numbers (-12, 3.5, 1e3), true and false, and
// for in / not in a list in [...] of those. Keywords (and, or, in, not,
// contains, true, false) are case-insensitive and cannot be attribute names;
// attribute names are case-sensitive letters, digits, '_' and '.', starting
// with a letter or '_'. Clerk documents no unary `not`, so there is none;
// `!=` and `not in` cover the negations.
//
// # Semantics
//
// Clerk documents that an attribute no product has matches nothing. Where
// Clerk is silent, Sibyl decides:
//
//   - A product lacking the attribute matches no simple expression on it,
//     including != and not in (SQL-like: absence is not "different").
//     So `a != 1` is exactly "has a" minus `a = 1`.
//   - Strings and numbers compare equal when the string is the number's
//     plain decimal form: ids are strings inside Sibyl, so id = 1 and
//     id = "1" are the same filter ("1.0" is not 1, "01" is not 1).
//     Booleans equal only booleans: "true" is not true.
//   - On a list attribute, =, in and the ranges hold when any element
//     matches; != and not in are their complements (no element matches).
//   - > >= < <= take a number. They compare numerically against numbers
//     and against strings in plain decimal syntax ("12.50"); other values
//     never match.
//   - contains on a list means an element equals the value (the = rules
//     above); on a string it is a case-insensitive substring test (Unicode
//     lower-casing) for the text of the value, so `name contains 7` finds
//     "Size 7" and a boolean finds no string; on a number or boolean
//     attribute it is equality.
//   - Attribute values that are not strings, finite numbers, booleans or
//     flat lists of those (nested objects, NaN) are ignored, as if absent.
//
// # Evaluation
//
// [Index] holds, per attribute, an inverted index (value -> roaring bitmap
// of items) for =, !=, in, not in and contains, the distinct string values
// for substring contains, and a value-sorted array with block bitmaps for
// ranges; [Index.Eval] turns a filter into a bitmap with bitmap AND, OR
// and AND-NOT. An attribute is indexed the first time a filter uses it (or by
// [Index.Warm]). [Match] evaluates one product's attributes directly, for
// short candidate lists; the two agree (see TestIndexAgreesWithMatch).
//
// Typical use by the HTTP layer:
//
//	expr, err := filter.Parse(r.filter) // err is a *SyntaxError: answer 400 with err.Error()
//	allowed := index.Eval(expr)         // then keep candidates with allowed.Contains(i)
package filter
