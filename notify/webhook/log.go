package webhook

import (
	"context"
	"sync"
	"time"
)

// Delivery is one attempt to deliver one event to one endpoint.
type Delivery struct {
	// ID is the delivery id (Qgate-Delivery), shared by all its attempts.
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	Event    string `json:"event"`
	ReviewID int64  `json:"review_id"`
	// Attempt counts from 1. It is 0 for a delivery abandoned before its
	// first attempt because the notifier was closed.
	Attempt int `json:"attempt"`
	// Status is the receiver's HTTP status, or 0 if none was received.
	Status int `json:"status"`
	// Error is empty when the receiver answered 2xx.
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"` // nanoseconds in JSON
	At       time.Time     `json:"at"`
	// Final is true on the last record of a delivery: it succeeded, failed
	// for good, or was abandoned. Otherwise another attempt follows.
	Final bool `json:"final"`
}

// OK reports whether the attempt succeeded.
func (d Delivery) OK() bool { return d.Error == "" }

// DeliveryLog records every delivery attempt. RecordDelivery is called
// from the endpoint's worker goroutine, one call at a time per endpoint but
// concurrently across endpoints, and should return quickly: a slow log
// delays that endpoint's deliveries. An error is logged and otherwise
// ignored.
type DeliveryLog interface {
	RecordDelivery(ctx context.Context, d Delivery) error
}

// MemoryLog keeps the most recent deliveries in memory, for the web UI.
// It is safe for concurrent use.
type MemoryLog struct {
	mu   sync.Mutex
	buf  []Delivery
	next int // index of the next write
	full bool
}

var _ DeliveryLog = (*MemoryLog)(nil)

// NewMemoryLog returns a log that keeps the last n attempts (at least 1).
func NewMemoryLog(n int) *MemoryLog {
	return &MemoryLog{buf: make([]Delivery, max(n, 1))}
}

// RecordDelivery stores d, evicting the oldest record when full. It never
// fails.
func (m *MemoryLog) RecordDelivery(_ context.Context, d Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf[m.next] = d
	m.next++
	if m.next == len(m.buf) {
		m.next, m.full = 0, true
	}
	return nil
}

// List returns the kept records, newest first.
func (m *MemoryLog) List() []Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.next
	if m.full {
		n = len(m.buf)
	}
	out := make([]Delivery, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, m.buf[(m.next-i+len(m.buf))%len(m.buf)])
	}
	return out
}
