package outbox

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/internal/ws"
)

// TestDeliveredOnceInOrderAfterOutage submits 200 messages while the upstream
// is unreachable; once it is back, each arrives exactly once, in order.
func TestDeliveredOnceInOrderAfterOutage(t *testing.T) {
	tests := []struct {
		name string
		// down makes the upstream unreachable; it returns how to bring an
		// upstream back, which returns the upstream that then serves.
		down func(t *testing.T, r func(url string) *rig) (*rig, func() *upstream)
	}{
		{"handshakes refused with 503", func(t *testing.T, newR func(string) *rig) (*rig, func() *upstream) {
			up := startUpstream(t, "")
			up.srv.SetReject(503, 0)
			r := newR(up.url)
			r.states.wait(t, "a refused dial", func(s []ws.State) bool { return slices.Contains(s, ws.StateReconnecting) })
			return r, func() *upstream { up.srv.SetReject(0, 0); return up }
		}},
		{"server gone, a new one on the same address", func(t *testing.T, newR func(string) *rig) (*rig, func() *upstream) {
			up := startUpstream(t, "")
			r := newR(up.url)
			n := r.waitState(ws.StateConnected, 0)
			waitConnections(t, up, 1)
			up.close()
			r.waitState(ws.StateReconnecting, n)
			return r, func() *upstream { return startUpstream(t, up.addr) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, back := tt.down(t, func(url string) *rig { return newRig(t, url, Config{}) })
			var ids []string
			for i := range 200 {
				id := fmt.Sprintf("m%03d", i)
				ids = append(ids, id)
				if st := r.submit(id, "conv"); st != StatusQueued {
					t.Fatalf("Submit %s while down = %s, want queued", id, st)
				}
			}
			if d := r.ob.Depth(); d != 200 {
				t.Fatalf("Depth = %d, want 200", d)
			}
			up := back()
			r.waitStatus(StatusDelivered, ids...)
			if got := up.posted("conv"); !slices.Equal(got, ids) {
				t.Errorf("upstream holds %d messages %v..., want the 200 in order", len(got), got[:min(len(got), 5)])
			}
			if got := up.received(t); !slices.Equal(got, ids) {
				t.Errorf("upstream read %d chat.message frames, want the 200 once each, in order (client states %v)",
					len(got), r.states.all())
			}
			if d := r.ob.Depth(); d != 0 {
				t.Errorf("Depth after delivery = %d, want 0", d)
			}
		})
	}
}

// TestResendAfterCutBeforeEcho cuts the connection after the bridge wrote a
// message but before the upstream handled it: after the reconnect the message
// is written again and delivered exactly once.
func TestResendAfterCutBeforeEcho(t *testing.T) {
	up := startUpstream(t, "")
	r := newRig(t, up.url, Config{})
	n := r.waitState(ws.StateConnected, 0)
	waitConnections(t, up, 1) // the server side too, so that DropAll finds it

	up.srv.SetSilent(true)
	if st := r.submit("cut-1", "conv"); st != StatusSent {
		t.Fatalf("Submit while connected = %s, want sent (states %v, updates %v)", st, r.states.all(), r.ups.all())
	}
	up.srv.DropAll()
	up.srv.SetSilent(false)
	r.waitState(ws.StateConnected, n)
	r.waitStatus(StatusDelivered, "cut-1")

	if got := up.posted("conv"); !slices.Equal(got, []string{"cut-1"}) {
		t.Errorf("upstream holds %v, want [cut-1]", got)
	}
	// The resend's sent update is not guaranteed: its echo may overtake the
	// flusher's report of the write.
	sts := r.statuses("cut-1")
	if len(sts) < 3 || sts[0] != StatusQueued || sts[len(sts)-1] != StatusDelivered {
		t.Fatalf("updates %v, want queued, sent..., delivered", sts)
	}
	for _, st := range sts[1 : len(sts)-1] {
		if st != StatusSent {
			t.Errorf("updates %v, want only sent between queued and delivered", sts)
		}
	}
	if u, ok := r.ob.lookup("cut-1"); !ok || u.Status != StatusDelivered {
		t.Errorf("lookup = %+v, %v; want delivered", u, ok)
	}
}
