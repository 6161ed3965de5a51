package query

import "crypto/sha256"

// secretDigest is what secretEqual compares: subtle.ConstantTimeCompare
// answers at once when its inputs differ in length, which would tell a
// caller probing the admin token how long it is. Both sides are hashed
// first, so the compare always runs over 32 bytes whatever was presented.
func secretDigest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
