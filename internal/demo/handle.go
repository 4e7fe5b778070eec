package demo

import (
	"bytes"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// handle records one frame read from c and acts on it, under s.mu so that
// every client sees the effects of all frames in one order. Whatever is wrong
// with a frame is answered with an error frame to c; the connection stays open.
func (s *Server) handle(c *conn, msgType int, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := Frame{User: c.user, Raw: bytes.Clone(data), At: time.Now()}
	if msgType != websocket.TextMessage {
		s.recordLocked(f)
		s.errorLocked(c, CodeBadFrame, "binary frames are not supported", "")
		return
	}
	typ, payload, err := parseFrame(data)
	f.Type, f.Payload = typ, payload
	s.recordLocked(f)
	if err != nil {
		s.log.Debug("demo: malformed frame", "user", c.user, "type", typ, "err", err)
		s.errorLocked(c, CodeBadFrame, err.Error(), "")
		return
	}
	m := fields(payload)

	switch typ {
	case "ping":
		c.enqueueLocked(mustEncode("pong", struct{}{}))

	case "chat.message":
		cid, okID := str(m, "client_message_id")
		convID, okConv := str(m, "conversation_id")
		content, okContent := str(m, "content")
		if !okID || !okConv || !okContent {
			s.errorLocked(c, CodeInvalidMessage,
				"chat.message needs non-empty string conversation_id, content and client_message_id", cid)
			return
		}
		msg, dup, err := s.postLocked(c.user, convID, content, cid)
		switch {
		case err != nil:
			s.errorLocked(c, CodeTooManyConvs, err.Error(), cid)
		case dup:
			// Idempotent resend: only the connection that resent learns
			// (again) that the message was delivered.
			c.enqueueLocked(mustEncode("chat.message", msg))
		}

	case "typing.indicator":
		convID, okConv := str(m, "conversation_id")
		typing, okTyping := boolean(m, "is_typing")
		if !okConv || !okTyping {
			s.errorLocked(c, CodeInvalidTyping, "typing.indicator needs a string conversation_id and a boolean is_typing", "")
			return
		}
		s.typingLocked(c.user, convID, typing)

	case "call.accept", "call.reject", "call.end":
		callID, ok := str(m, "call_id")
		if !ok {
			s.errorLocked(c, CodeInvalidCall, typ+" needs a non-empty string call_id", "")
			return
		}
		reason, _ := str(m, "reason")
		if typ == "call.accept" {
			reason = ""
		}
		s.callActionLocked(c.user, typ, callID, reason)

	default:
		s.errorLocked(c, CodeUnknownType, fmt.Sprintf("unknown frame type %.64q", typ), "")
	}
}

// errorLocked queues an error frame to c alone.
func (s *Server) errorLocked(c *conn, code, message, ref string) {
	c.enqueueLocked(mustEncode("error", errorPayload{Code: code, Message: message, Ref: ref}))
}
