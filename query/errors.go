package query

import (
	"fmt"

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
	ErrTypeTooLarge       = "too_large"    // 413: body or batch over a limit
	ErrTypeRateLimited    = "rate_limited" // 429
	ErrTypeUnavailable    = "unavailable"  // 503: no quorum, not ready, shutting down
	ErrTypeInternal       = "internal"     // 500

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
