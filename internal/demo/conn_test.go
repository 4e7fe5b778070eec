package demo

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

func TestSlowClientIsDropped(t *testing.T) {
	s, u := startServer(t, Config{})
	ws, _, err := dialRaw(t, u, DemoToken, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	if err := s.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The client never reads: once the socket buffers and the queue are
	// full, the server drops it rather than block.
	big := []byte(`{"type":"x","payload":{"pad":"` + strings.Repeat("a", 64<<10) + `"}}`)
	for i := 0; i < 2000 && s.Connections() == 1; i++ {
		s.SendRaw("", big)
	}
	if err := s.WaitConnections(ctx, 0); err != nil {
		t.Fatalf("slow client not dropped: %v", err)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	s, u := startServer(t, Config{IdleTimeout: 50 * time.Millisecond})
	ws, _, err := dialRaw(t, u, DemoToken, false)
	if err != nil {
		t.Fatal(err)
	}
	newClient(t, ws).ended() // the server's read times out and it cuts the connection
	if err := s.WaitConnections(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestTruncateReason(t *testing.T) {
	tests := []struct {
		name, in string
		wantLen  int
	}{
		{name: "short", in: "bye", wantLen: 3},
		{name: "exactly 123", in: strings.Repeat("a", 123), wantLen: 123},
		{name: "long ascii", in: strings.Repeat("a", 200), wantLen: 123},
		{name: "long multibyte", in: strings.Repeat("é", 100), wantLen: 122},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncateReason(tt.in)
			if len(got) != tt.wantLen || !utf8.ValidString(got) || !strings.HasPrefix(tt.in, got) {
				t.Errorf("truncateReason = %q (%d bytes), want %d bytes", got, len(got), tt.wantLen)
			}
		})
	}
}

func TestPeerCloseIsAnsweredAndUnregisters(t *testing.T) {
	s, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(c.ended()); code != websocket.CloseNormalClosure {
		t.Errorf("close reply code %d, want 1000", code)
	}
	if err := s.WaitConnections(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestWebSocketPingGetsPong(t *testing.T) {
	_, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	pongs := make(chan string, 1)
	c.ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("hb"), time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	select {
	case data := <-pongs:
		if data != "hb" {
			t.Errorf("pong data %q", data)
		}
	case <-time.After(bound):
		t.Fatal("no pong")
	}
}

func TestFrameOverOneMiBClosesWith1009(t *testing.T) {
	s, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	big := `{"type":"chat.message","payload":{"pad":"` + strings.Repeat("a", maxFrameBytes) + `"}}`
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(c.ended()); code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", code)
	}
	if err := s.WaitConnections(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestFrameOfExactlyOneMiBIsRead(t *testing.T) {
	_, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	head, tail := `{"type":"x","payload":{"pad":"`, `"}}`
	frame := head + strings.Repeat("a", maxFrameBytes-len(head)-len(tail)) + tail
	c.sendRaw([]byte(frame))
	if code := c.expect("error").str(t, "code"); code != CodeUnknownType {
		t.Errorf("code %q", code)
	}
}
