package chat

import (
	"maps"
	"sync"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// Stats counts frames. Received is keyed by event type (the upstream types nothing routes are
// counted under "unknown"), Raw by what a unit on the raw topic was (json, text, binary) and
// Sent by action, so every key set stays small whatever arrives.
type Stats struct {
	Frames    uint64            // frames received
	Received  map[string]uint64 // well-formed units by type
	Raw       map[string]uint64 // units published on raw, by kind
	Sent      map[string]uint64
	Malformed uint64
	Resent    uint64 // messages written again after a reconnect
	// InvalidUTF8 counts text frames that were not valid UTF-8; each bad run of bytes was
	// replaced with U+FFFD before anything was decoded or published.
	InvalidUTF8 uint64
}

// counters is the live, lock-guarded form of Stats.
type counters struct {
	mu  sync.Mutex
	cur Stats
}

func newCounters() *counters {
	return &counters{cur: Stats{Received: map[string]uint64{}, Raw: map[string]uint64{},
		Sent: map[string]uint64{}}}
}

// frame counts what one frame held, and whether its text had to be repaired.
func (c *counters) frame(r *dialect.Result, repaired bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur.Frames++
	if repaired {
		c.cur.InvalidUTF8++
	}
	c.cur.Malformed += uint64(len(r.Rejects))
	if r.Unknown > 0 {
		c.cur.Received["unknown"] += uint64(r.Unknown)
	}
	for i := range r.Events {
		e := &r.Events[i]
		if e.RawKind != "" {
			c.cur.Raw[e.RawKind]++
			continue
		}
		c.cur.Received[e.Type]++
	}
}

func (c *counters) sent(typ string) {
	c.mu.Lock()
	c.cur.Sent[typ]++
	c.mu.Unlock()
}

func (c *counters) resent() {
	c.mu.Lock()
	c.cur.Resent++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.cur
	out.Received, out.Raw, out.Sent = maps.Clone(c.cur.Received), maps.Clone(c.cur.Raw), maps.Clone(c.cur.Sent)
	return out
}
