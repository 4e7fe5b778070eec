package dialect

import "net/url"

// Pending remembers which message each request id of a dialect stands for (a publish command, a
// Socket.IO acknowledgement id) until its reply comes. It keeps at most max ids: beyond that the
// oldest is forgotten, and its reply, should it ever come, names no message. It is not safe for
// concurrent use: a dialect guards it with its own lock.
type Pending[K comparable] struct {
	max   int
	ids   map[K]string
	order []K // oldest first; ids already taken are skipped when the oldest is forgotten
}

// NewPending returns an empty Pending that keeps at most max ids.
func NewPending[K comparable](max int) *Pending[K] {
	return &Pending[K]{max: max, ids: make(map[K]string)}
}

// Put remembers that request id stands for the message clientMessageID.
func (p *Pending[K]) Put(id K, clientMessageID string) {
	p.ids[id] = clientMessageID
	p.order = append(p.order, id)
	for len(p.order) > p.max {
		delete(p.ids, p.order[0])
		p.order = p.order[1:]
	}
}

// Take returns the message request id stands for, and forgets it.
func (p *Pending[K]) Take(id K) (clientMessageID string, ok bool) {
	clientMessageID, ok = p.ids[id]
	delete(p.ids, id)
	return clientMessageID, ok
}

// WithPath parses a server's base URL and sets its path: path when given, else the base's own,
// else def when the base has none.
func WithPath(base, path, def string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	switch {
	case path != "":
		u.Path = path
	case u.Path == "" || u.Path == "/":
		u.Path = def
	}
	return u, nil
}
