package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// contractSink checks, batch by batch, that no order names a product or
// customer not delivered earlier.
type contractSink struct {
	feedRecorder
	known     map[ID]bool
	customers map[ID]bool
	violation error
}

func (s *contractSink) Products(p []Product) error {
	for i := range p {
		s.known[p[i].ID] = true
	}
	return s.feedRecorder.Products(p)
}

func (s *contractSink) Customers(c []Customer) error {
	for i := range c {
		s.customers[c[i].ID] = true
	}
	return s.feedRecorder.Customers(c)
}

func (s *contractSink) Orders(o []Order) error {
	for _, ord := range o {
		if !s.customers[ord.Customer] && s.violation == nil {
			s.violation = fmt.Errorf("order %s before its customer", ord.ID)
		}
		for _, l := range ord.Products {
			if !s.known[l.ID] && s.violation == nil {
				s.violation = fmt.Errorf("order %s before product %s", ord.ID, l.ID)
			}
		}
	}
	return s.feedRecorder.Orders(o)
}

func TestRetailBatcherKeepsOrder(t *testing.T) {
	var in strings.Builder
	in.WriteString(retailHeaderLine)
	for i := range 50 {
		fmt.Fprintf(&in, "%d,P%d,p,1,2011-01-01 10:00:00,1,%d.0,UK\n", i, i%7, i%5)
		fmt.Fprintf(&in, "%d,Q%d,q,1,2011-01-01 10:00:00,1,%d.0,UK\n", i, i, i%5)
	}
	sink := &contractSink{known: map[ID]bool{}, customers: map[ID]bool{}}
	b, err := NewRetailBatcher(sink, 3)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadOnlineRetail(strings.NewReader(in.String()), b)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if sink.violation != nil {
		t.Fatal(sink.violation)
	}
	if len(sink.orders) != st.Orders || st.Orders != 50 || len(sink.known) != 57 || len(sink.customers) != 5 {
		t.Errorf("delivered %d orders, %d products, %d customers; stats %+v", len(sink.orders), len(sink.known), len(sink.customers), st)
	}
	for _, c := range sink.calls {
		if n := strings.Count(c, ",") + 1; n > 3 {
			t.Errorf("batch %q exceeds size 3", c)
		}
	}
	if _, err := NewRetailBatcher(sink, 0); err == nil {
		t.Error("batch size 0 accepted")
	}
}
