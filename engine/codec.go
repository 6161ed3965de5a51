package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/internal/wire"
)

// Orders are most of a store's records and of its write traffic, so they
// travel through Raft and rest in Badger in a compact binary form instead
// of JSON: decoding JSON orders dominated both import and restart time
// (a restart of the Online Retail store spent ~19 s in encoding/json).
// Other kinds are few and stay JSON.
//
// One order: version byte, then id, time (varint), customer, email, line
// count, and per line: id, quantity and price as float64 bits. Strings
// are uvarint-length-prefixed. A batch is a uvarint count followed by
// uvarint-length-prefixed orders, so each order's bytes can be stored as
// they are.

const orderCodecVersion = 1

var errCorruptOrder = errors.New("corrupt binary order")

// EncodeUpsert encodes validated records of a kind as an upsert command
// body.
func EncodeUpsert(kind ingest.Kind, records any) ([]byte, error) {
	if kind != ingest.KindOrders {
		return json.Marshal(records)
	}
	orders, ok := records.([]ingest.Order)
	if !ok {
		return nil, fmt.Errorf("orders must be []ingest.Order, got %T", records)
	}
	return EncodeOrders(orders), nil
}

// EncodeOrders encodes a batch of orders.
func EncodeOrders(orders []ingest.Order) []byte {
	b := binary.AppendUvarint(nil, uint64(len(orders)))
	var one []byte
	for i := range orders {
		one = appendOrder(one[:0], &orders[i])
		b = wire.AppendBytes(b, one)
	}
	return b
}

// splitOrders calls fn with each encoded order of a batch.
func splitOrders(b []byte, fn func(one []byte) error) error {
	d := wire.NewDecoder(b)
	n := d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		if one := d.Bytes(); d.Err() == nil {
			if err := fn(one); err != nil {
				return err
			}
		}
	}
	if d.Err() != nil || d.Len() != 0 {
		return errCorruptOrder
	}
	return nil
}

func appendOrder(b []byte, o *ingest.Order) []byte {
	b = append(b, orderCodecVersion)
	b = wire.AppendString(b, string(o.ID))
	b = binary.AppendVarint(b, o.Time)
	b = wire.AppendString(b, string(o.Customer))
	b = wire.AppendString(b, o.Email)
	b = binary.AppendUvarint(b, uint64(len(o.Products)))
	for _, l := range o.Products {
		b = wire.AppendString(b, string(l.ID))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(l.Quantity))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(l.Price))
	}
	return b
}

// decodeOrder decodes one order. Strings are copied out of b, which may be
// a Badger buffer.
func decodeOrder(b []byte) (*ingest.Order, error) {
	d := wire.NewDecoder(b)
	if v := d.Byte(); v != orderCodecVersion {
		return nil, fmt.Errorf("%w: version %d", errCorruptOrder, v)
	}
	o := &ingest.Order{}
	o.ID = ingest.ID(d.Str())
	o.Time = d.Varint()
	o.Customer = ingest.ID(d.Str())
	o.Email = d.Str()
	n := d.Uvarint()
	if n > uint64(len(b)) { // each line takes more than a byte
		return nil, errCorruptOrder
	}
	o.Products = make([]ingest.OrderLine, n)
	for i := range o.Products {
		o.Products[i].ID = ingest.ID(d.Str())
		o.Products[i].Quantity = math.Float64frombits(d.Uint64())
		o.Products[i].Price = math.Float64frombits(d.Uint64())
	}
	if d.Err() != nil || d.Len() != 0 {
		return nil, errCorruptOrder
	}
	return o, nil
}
