package query

import "testing"

func TestSecretEqual(t *testing.T) {
	f := func(given, want string, ok bool) {
		t.Helper()
		if got := secretEqual(given, want); got != ok {
			t.Errorf("secretEqual(%q, %q) = %v, want %v", given, want, got, ok)
		}
	}
	f("test-admin-token-0123456789", "test-admin-token-0123456789", true)
	f("test-admin-token-012345678", "test-admin-token-0123456789", false) // a prefix
	f("test-admin-token-01234567890", "test-admin-token-0123456789", false)
	f("test-admin-token-0123456788", "test-admin-token-0123456789", false)
	f("", "", false) // an empty expected secret matches nothing
	f("x", "", false)
	if len(secretDigest("a")) != len(secretDigest("a much longer secret")) {
		t.Fatal("digests differ in length: the compare would leak it")
	}
}
