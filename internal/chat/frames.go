package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/outbox"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// The Service is the upstream client's Handler: the client runs it with each connection.
var _ ws.Handler = (*Service)(nil)

// OpenConn starts the dialect on a new connection (ws.Handler).
func (s *Service) OpenConn(token string) ws.Opening {
	first, ready := s.dialect.Open(token)
	return ws.Opening{Write: first, Ready: ready}
}

// HandleFrame takes one upstream frame (ws.Handler): the dialect decodes it once, every unit
// goes to the raw topic, every well-formed unit of a routed type to its own topic and into the
// snapshot state; an echo of a sent message or the upstream's acknowledgement reaches the
// outbox. A malformed unit is counted and logged without its content. It never blocks on
// subscribers, and is safe for concurrent use (the reader goroutine calls it, and so may a test).
func (s *Service) HandleFrame(f ws.Frame) ws.Reaction {
	arrived := time.Now()
	repaired := false
	if !f.Binary && !utf8.Valid(f.Data) {
		// Nothing leaves the bridge as invalid UTF-8: each bad run becomes U+FFFD, counted.
		f.Data, repaired = bytes.ToValidUTF8(f.Data, []byte("\uFFFD")), true
	}
	r := results.Get().(*dialect.Result)
	defer func() {
		r.Reset()
		results.Put(r)
	}()
	s.dialect.Decode(dialect.Frame{Binary: f.Binary, Data: f.Data},
		dialect.Env{At: arrived, Own: s.outbox.Known}, r)

	// Counted before anything is published, so that whoever sees an event sees it counted.
	s.stats.frame(r, repaired)
	for _, rej := range r.Rejects {
		s.warn.log("malformed upstream frame", rej.Reason, "type", rej.Type, "reason", rej.Reason, "bytes", rej.Bytes)
	}
	domain := false
	for i := range r.Events {
		e := &r.Events[i]
		if e.Topic == "" {
			continue
		}
		if e.CallID != "" {
			e.Key = s.calls.key(e.Type, e.CallID, e.Key)
		}
		s.publish(e.Topic, e.Type, e.Key, e.Data, e.Value)
		domain = domain || e.Value != nil
	}
	if domain && s.observeFrame != nil {
		s.observeFrame(time.Since(arrived))
	}
	for _, e := range r.Events {
		switch v := e.Value.(type) {
		case *dialect.Message:
			if v.ClientMessageID != "" {
				s.outbox.Ack(v.ClientMessageID) // an echo is an acknowledgement in every mode
			}
		case *dialect.ErrorFrame:
			if v.Ref != "" {
				s.outbox.Fail(v.Ref, v.Code+": "+v.Message)
			}
		}
	}
	for _, a := range r.Acks {
		if a.Error == "" {
			s.outbox.Ack(a.ClientMessageID)
		} else {
			s.outbox.Fail(a.ClientMessageID, a.Error)
		}
	}
	return ws.Reaction{Write: slices.Clone(r.Replies), Ready: r.Ready, Idle: r.Idle, Err: transportError(r.Err)}
}

// results keeps the decode results of frames for reuse.
var results = sync.Pool{New: func() any { return new(dialect.Result) }}

// transportError turns a dialect's end of the session into the error the client acts on.
func transportError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dialect.ErrUnauthorized):
		return fmt.Errorf("%w: %w", ws.ErrUnauthorized, err)
	case errors.Is(err, dialect.ErrTerminal):
		return fmt.Errorf("%w: %w", ws.ErrTerminal, err)
	}
	return err
}

// ConnectionState is the JSON form of the upstream connection state, as GET /connection and the
// connection.state event show it.
type ConnectionState struct {
	State       string     `json:"state"`
	Since       time.Time  `json:"since"`
	Attempt     int        `json:"attempt"`
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// ConnectionStateOf converts a ws.Status into its JSON form.
func ConnectionStateOf(st ws.Status) ConnectionState {
	cs := ConnectionState{State: string(st.State), Since: st.Since.UTC(), Attempt: st.Attempt,
		LastError: st.LastError}
	if !st.NextRetryAt.IsZero() {
		t := st.NextRetryAt.UTC()
		cs.NextRetryAt = &t
	}
	return cs
}

// HandleState publishes a connection state change on the connection topic and tells the
// outbox (ws.Handler): how a connection ended decides what the outbox suspects.
func (s *Service) HandleState(st ws.Status) {
	data, _ := json.Marshal(ConnectionStateOf(st)) // plain struct: cannot fail
	s.publish(dialect.TopicConnection, EventConnectionState, "", data, nil)
	if st.State == ws.StateConnected {
		s.outbox.SetConnected(true)
		return
	}
	s.outbox.Down(dropOf(st))
}

// dropOf says how the last connection ended, from the state that followed it.
func dropOf(st ws.Status) outbox.Drop {
	switch {
	case st.State != ws.StateReconnecting && st.State != ws.StateUnauthorized:
		return outbox.Drop{Kind: outbox.DropClean} // stopped by us, or never connected
	case st.State == ws.StateUnauthorized:
		return outbox.Drop{Kind: outbox.DropRestart, Code: st.CloseCode} // the token's fault, not a message's
	case st.CloseCode == 1009 || st.CloseCode == 1007:
		return outbox.Drop{Kind: outbox.DropRefused, Code: st.CloseCode}
	case st.CloseCode == 1001 || st.CloseCode == 1012:
		return outbox.Drop{Kind: outbox.DropRestart, Code: st.CloseCode}
	}
	return outbox.Drop{Kind: outbox.DropBroken, Code: st.CloseCode}
}

// callIndex remembers the conversation of an incoming call and finds it for later call
// events, so the conversation_id filter also works for call.accepted, call.rejected and
// call.ended. Safe for concurrent use.
type callIndex struct {
	mu    sync.Mutex
	max   int
	conv  map[string]string
	order []string
}

// key returns the conversation of call event typ for callID (key when the event names one).
func (c *callIndex) key(typ, callID, key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch typ {
	case dialect.TypeCallIncoming:
		if _, ok := c.conv[callID]; !ok {
			c.order = append(c.order, callID)
		}
		c.conv[callID] = key
		for len(c.order) > c.max {
			delete(c.conv, c.order[0])
			c.order = c.order[1:]
		}
		return key
	case dialect.TypeCallEnded, dialect.TypeCallRejected:
		k := c.conv[callID]
		delete(c.conv, callID) // order keeps the id until it ages out; harmless
		return k
	default:
		return c.conv[callID]
	}
}
