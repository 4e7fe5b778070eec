package chat

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/dialect/envelope"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// benchFrame is a chat.message of about 200 bytes of content, as the load scenarios send.
var benchFrame = []byte(fmt.Sprintf(`{"type":"chat.message","payload":{"id":"m42","conversation_id":"general",`+
	`"sender_id":"bob","content":%q,"created_at":"2026-11-25T20:00:00Z","client_message_id":"k-42"}}`,
	strings.Repeat("x", 200)))

// BenchmarkHandleFrame is the whole receive path of one frame: decode, route, publish on raw and
// on its topic, fold into the projection.
func BenchmarkHandleFrame(b *testing.B) {
	topics := hub.New(hub.Config{})
	defer topics.Close()
	svc, err := NewService(Config{Topics: topics, Transport: nopTransport{}, Dialect: envelope.New(envelope.Config{})})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		svc.HandleFrame(ws.Frame{Data: benchFrame})
	}
}

// nopTransport is an upstream that takes every frame.
type nopTransport struct{}

func (nopTransport) Send(context.Context, []byte) error { return nil }
