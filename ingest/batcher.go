package ingest

import "fmt"

// RetailBatcher adapts the record-at-a-time RetailSink to the batched
// FeedSink, for importers that push batches (e.g. over HTTP). Pending
// products and customers are always delivered before the orders collected
// with them, so the "never an unknown record" order of ReadOnlineRetail
// survives batching. Call Flush after the reader returns.
type RetailBatcher struct {
	sink      FeedSink
	size      int
	products  []Product
	customers []Customer
	orders    []Order
}

// NewRetailBatcher returns a batcher delivering at most size records of a
// kind per call.
func NewRetailBatcher(sink FeedSink, size int) (*RetailBatcher, error) {
	if size < 1 {
		return nil, fmt.Errorf("batch size must be at least 1, got %d", size)
	}
	return &RetailBatcher{sink: sink, size: size}, nil
}

// Product queues p, delivering a full batch.
func (b *RetailBatcher) Product(p *Product) error {
	b.products = append(b.products, *p)
	if len(b.products) >= b.size {
		return b.flushProducts()
	}
	return nil
}

// Customer queues c, delivering a full batch.
func (b *RetailBatcher) Customer(c *Customer) error {
	b.customers = append(b.customers, *c)
	if len(b.customers) >= b.size {
		return b.flushCustomers()
	}
	return nil
}

// Order queues o; a full batch is delivered after the pending products and
// customers it may refer to.
func (b *RetailBatcher) Order(o *Order) error {
	b.orders = append(b.orders, *o)
	if len(b.orders) >= b.size {
		return b.Flush()
	}
	return nil
}

// Flush delivers everything pending: products, customers, then orders.
func (b *RetailBatcher) Flush() error {
	if err := b.flushProducts(); err != nil {
		return err
	}
	if err := b.flushCustomers(); err != nil {
		return err
	}
	if len(b.orders) == 0 {
		return nil
	}
	batch := b.orders
	b.orders = nil
	if err := b.sink.Orders(batch); err != nil {
		return fmt.Errorf("cannot deliver %d orders: %w", len(batch), err)
	}
	return nil
}

func (b *RetailBatcher) flushProducts() error {
	if len(b.products) == 0 {
		return nil
	}
	batch := b.products
	b.products = nil
	if err := b.sink.Products(batch); err != nil {
		return fmt.Errorf("cannot deliver %d products: %w", len(batch), err)
	}
	return nil
}

func (b *RetailBatcher) flushCustomers() error {
	if len(b.customers) == 0 {
		return nil
	}
	batch := b.customers
	b.customers = nil
	if err := b.sink.Customers(batch); err != nil {
		return fmt.Errorf("cannot deliver %d customers: %w", len(batch), err)
	}
	return nil
}
