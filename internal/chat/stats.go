package chat

import "sync"

// Stats counts frames. Received and Sent are keyed by frame type; upstream types the protocol
// does not know are counted under "unknown", so the key set stays small whatever arrives.
type Stats struct {
	Received  map[string]uint64
	Sent      map[string]uint64
	Malformed uint64
}

// counters is the live, lock-guarded form of Stats.
type counters struct {
	mu  sync.Mutex
	cur Stats
}

func newCounters() *counters {
	return &counters{cur: Stats{Received: map[string]uint64{}, Sent: map[string]uint64{}}}
}

func (c *counters) received(typ string) {
	c.mu.Lock()
	c.cur.Received[typ]++
	c.mu.Unlock()
}

func (c *counters) sent(typ string) {
	c.mu.Lock()
	c.cur.Sent[typ]++
	c.mu.Unlock()
}

func (c *counters) malformed() {
	c.mu.Lock()
	c.cur.Malformed++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Stats{Received: make(map[string]uint64, len(c.cur.Received)),
		Sent: make(map[string]uint64, len(c.cur.Sent)), Malformed: c.cur.Malformed}
	for k, v := range c.cur.Received {
		out.Received[k] = v
	}
	for k, v := range c.cur.Sent {
		out.Sent[k] = v
	}
	return out
}
