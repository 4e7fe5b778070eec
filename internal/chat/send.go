package chat

import (
	"context"
	"fmt"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/outbox"
)

// The outgoing operations' types are the dialect layer's.
type (
	OutgoingMessage = dialect.OutgoingMessage
	OutgoingTyping  = dialect.OutgoingTyping
	OutgoingCall    = dialect.OutgoingCall
)

// Call actions, as SendCall takes them.
const (
	CallAccept = dialect.ActionCallAccept
	CallReject = dialect.ActionCallReject
	CallEnd    = dialect.ActionCallEnd
)

// Submit accepts a chat message for delivery: it is written upstream now when the upstream is
// connected (status "sent"), else queued until it is ("queued"); it leaves the outbox when the
// upstream acknowledges it (as the ack mode says). A client_message_id the bridge already holds
// or recently delivered is not sent again: Submit answers its current status ("queued",
// "sent" or "delivered"); one that failed is queued again. It fails with ErrOutboxFull when the
// outbox is full.
func (s *Service) Submit(ctx context.Context, m OutgoingMessage) (status string, err error) {
	st, err := s.outbox.Submit(ctx, outbox.Message{ClientMessageID: m.ClientMessageID,
		ConversationID: m.ConversationID, Content: m.Content, AcceptedAt: time.Now().UTC()})
	if err != nil {
		return "", fmt.Errorf("submit message: %w", err)
	}
	return string(st), nil
}

// ErrStorage is matched (errors.Is) by the error of Submit when the state directory could not
// take the message: it was not accepted.
var ErrStorage = outbox.ErrStorage

// Errors of Cancel; check them with errors.Is.
var (
	ErrUnknownMessage = outbox.ErrUnknown
	ErrMessageDone    = outbox.ErrDone
)

// Cancel takes a waiting message out of the outbox: it is not written (again) and its status
// becomes failed with the reason "cancelled". It fails with ErrUnknownMessage for an id the
// bridge does not hold or remember, and with ErrMessageDone (naming the status) for one that
// was delivered or failed already.
func (s *Service) Cancel(clientMessageID string) error {
	return s.outbox.Cancel(clientMessageID)
}

// upstreamSender writes outbox messages upstream: the outbox's Sender.
type upstreamSender struct{ s *Service }

func (u upstreamSender) SendMessage(ctx context.Context, m outbox.Message) error {
	frame, err := u.s.dialect.EncodeMessage(OutgoingMessage{ConversationID: m.ConversationID,
		Content: m.Content, ClientMessageID: m.ClientMessageID})
	if err != nil {
		return refused{err} // it would not encode on the next connection either
	}
	err = u.s.send(ctx, dialect.ActionMessage, frame)
	if err == nil && u.s.observeSend != nil {
		u.s.observeSend(time.Since(m.AcceptedAt))
	}
	return err
}

// refused is an error the outbox fails a message for, for good (outbox.ErrRefused).
type refused struct{ err error }

func (r refused) Error() string        { return r.err.Error() }
func (r refused) Unwrap() error        { return r.err }
func (r refused) Is(target error) bool { return target == outbox.ErrRefused }

// SendTyping sends a typing indicator upstream. It fails at once when the upstream is not connected.
func (s *Service) SendTyping(ctx context.Context, t OutgoingTyping) error {
	frame, err := s.dialect.EncodeTyping(t)
	if err != nil {
		return fmt.Errorf("encode typing: %w", err)
	}
	return s.send(ctx, dialect.ActionTyping, frame)
}

// SendCall sends a call action (CallAccept, CallReject or CallEnd) upstream.
func (s *Service) SendCall(ctx context.Context, action string, c OutgoingCall) error {
	switch action {
	case CallAccept, CallReject, CallEnd:
	default:
		return fmt.Errorf("send %s: not a call action", action)
	}
	if action == CallAccept {
		c.Reason = ""
	}
	frame, err := s.dialect.EncodeCall(action, c)
	if err != nil {
		return fmt.Errorf("encode %s: %w", action, err)
	}
	return s.send(ctx, action, frame)
}

func (s *Service) send(ctx context.Context, action string, frame []byte) error {
	if err := s.tr.Send(ctx, frame); err != nil {
		return fmt.Errorf("send %s: %w", action, err)
	}
	s.stats.sent(action)
	return nil
}
