package chat

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/hub"
)

// benchFrame is a chat.message of about 200 bytes of content, as the load scenarios send.
var benchFrame = []byte(fmt.Sprintf(`{"type":"chat.message","payload":{"id":"m42","conversation_id":"general",`+
	`"sender_id":"bob","content":%q,"created_at":"2026-11-25T20:00:00Z","client_message_id":"k-42"}}`,
	strings.Repeat("x", 200)))

func BenchmarkDecodeEnvelope(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		if _, err := DecodeEnvelope(benchFrame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	env, err := DecodeEnvelope(benchFrame)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Route(env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleFrame is the whole receive path of one frame: decode, route, publish on raw and
// on its topic, fold into the projection.
func BenchmarkHandleFrame(b *testing.B) {
	topics := hub.New(hub.Config{})
	defer topics.Close()
	svc, err := NewService(Config{Topics: topics, Transport: nopTransport{}})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		svc.HandleFrame(benchFrame)
	}
}

// nopTransport is an upstream that takes every frame.
type nopTransport struct{}

func (nopTransport) Send(context.Context, []byte) error { return nil }
