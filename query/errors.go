package query

import (
	"fmt"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/valyala/fasthttp"
)

// APIError is an error answered to a client. Its Type is a stable code
// clients may branch on; the catalogue below is the whole set.
type APIError struct {
	Status  int    `json:"-"`
	Type    string `json:"type"`
	Message string `json:"message"`
	// Details lists per-record problems of a rejected batch.
	Details any `json:"details,omitempty"`
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds): rate_limited and overloaded answers say when to come back.
	RetryAfter int `json:"-"`
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// The catalogue of API error types. Keep the strings stable.
const (
	ErrTypeBadRequest     = "bad_request"     // 400: malformed JSON, wrong types, bad parameter
	ErrTypeInvalidRecords = "invalid_records" // 400: a batch with bad records, rejected whole
	ErrTypeMissingKey     = "missing_key"     // 401: no key given
	ErrTypeInvalidKey     = "invalid_key"     // 401: the key names no store
	ErrTypeForbidden      = "forbidden"       // 403: the key may not do this (public key on a write)
	ErrTypeNotFound       = "not_found"       // 404: unknown endpoint, store or record
	ErrTypeMethod         = "method_not_allowed"
	ErrTypeTooLarge       = "too_large"         // 413: body or batch over a limit
	ErrTypeURITooLong     = "uri_too_long"      // 414: request line over the limit; send a POST body
	ErrTypeHeaderTooLarge = "headers_too_large" // 431: request headers over the limit
	ErrTypeRateLimited    = "rate_limited"      // 429: a store's or a client's request rate is over its limit (Retry-After)
	ErrTypeOverloaded     = "overloaded"        // 503: the node sheds load: too many requests in flight (Retry-After)
	ErrTypeUnavailable    = "unavailable"       // 503: no quorum, not ready, shutting down
	ErrTypeInternal       = "internal"          // 500

	// 507: the node's disk is under its free-space floor; writes are
	// refused until space is freed, reads still work.
	ErrTypeInsufficientStorage = "insufficient_storage"
)

func errBadRequest(format string, args ...any) *APIError {
	return &APIError{Status: fasthttp.StatusBadRequest, Type: ErrTypeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func errForbidden(format string, args ...any) *APIError {
	return &APIError{Status: fasthttp.StatusForbidden, Type: ErrTypeForbidden, Message: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) *APIError {
	return &APIError{Status: fasthttp.StatusNotFound, Type: ErrTypeNotFound, Message: fmt.Sprintf(format, args...)}
}

func errTooLarge(format string, args ...any) *APIError {
	return &APIError{Status: fasthttp.StatusRequestEntityTooLarge, Type: ErrTypeTooLarge, Message: fmt.Sprintf(format, args...)}
}

func errUnavailable(format string, args ...any) *APIError {
	return &APIError{Status: fasthttp.StatusServiceUnavailable, Type: ErrTypeUnavailable, Message: fmt.Sprintf(format, args...)}
}

func errInternal(format string, args ...any) *APIError {
	return &APIError{Status: fasthttp.StatusInternalServerError, Type: ErrTypeInternal, Message: fmt.Sprintf(format, args...)}
}

// quote renders a client-supplied value for an error message: Go-quoted
// and cut at about 100 bytes with an ellipsis and the value's length
// (ingest.Quote, shared with the validators). Use it wherever a message
// echoes input.
func quote(s string) string { return ingest.Quote(s) }

// clip is quote for a value JSON will quote anyway (an error's details).
func clip(s string) string { return ingest.Clip(s, ingest.QuoteMax) }

// maxMessageBytes caps a whole error message at the last moment, for
// texts built from errors whose wording Sibyl does not control (JSON
// decoder errors naming a field, engine rejections): quote bounds each
// echoed value, this bounds the sum.
const maxMessageBytes = 2048

func capMessage(s string) string { return ingest.Clip(s, maxMessageBytes) }
