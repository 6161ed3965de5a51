package node

import (
	"errors"
	"net/http"

	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
)

// diskFullErr turns a write refused under the free-space floor
// (shard.ErrDiskFull, from shard.Manager.ProposeStore or DiskFull) into the
// API's 507 insufficient_storage answer; other errors pass through.
func diskFullErr(err error) error {
	if !errors.Is(err, shard.ErrDiskFull) {
		return err
	}
	return &query.APIError{Status: http.StatusInsufficientStorage, Type: query.ErrTypeInsufficientStorage, Message: err.Error()}
}
