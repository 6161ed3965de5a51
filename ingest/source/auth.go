package source

import "net/http"

// Auth holds the credentials a source sends with every request. A feed
// URL may want a bearer token or basic auth (help.clerk.io, "Data Feeds",
// Security: feeds should require HTTP authentication). Its String never
// shows a secret.
type Auth struct {
	// Bearer is sent as "Bearer <token>" in Header.
	Bearer string
	// Header names the header the bearer token travels in; "" means
	// Authorization. Clerk's own importer sends its token in
	// X-Clerk-Authorization (help.clerk.io, "Data Feeds", Security), so
	// feeds written for Clerk may check that header.
	Header string
	// User and Password are sent as basic auth when User is set.
	User     string
	Password string
}

// IsZero reports whether no credential is set.
func (a Auth) IsZero() bool { return a.Bearer == "" && a.User == "" && a.Password == "" }

// Apply sets the credentials on req.
func (a Auth) Apply(req *http.Request) {
	if a.Bearer != "" {
		header := a.Header
		if header == "" {
			header = "Authorization"
		}
		req.Header.Set(header, "Bearer "+a.Bearer)
	}
	if a.User != "" {
		req.SetBasicAuth(a.User, a.Password)
	}
}

// String names the kind of credential, never its value.
func (a Auth) String() string {
	switch {
	case a.Bearer != "" && a.User != "":
		return "bearer token and basic auth"
	case a.Bearer != "":
		return "bearer token"
	case a.User != "":
		return "basic auth" // the user may be a key (WooCommerce)
	}
	return "none"
}

// GoString keeps %#v from printing the secrets.
func (a Auth) GoString() string { return "source.Auth{" + a.String() + "}" }
