package ws

import (
	"testing"
	"time"
)

func TestStatusSameAs(t *testing.T) {
	at := time.Now()
	base := Status{State: StateReconnecting, Since: at, Attempt: 2, NextRetryAt: at, LastError: "e"}
	tests := []struct {
		name string
		edit func(*Status)
		want bool
	}{
		{"identical", func(*Status) {}, true},
		{"other Since", func(s *Status) { s.Since = at.Add(time.Hour) }, true},
		{"other state", func(s *Status) { s.State = StateConnecting }, false},
		{"other attempt", func(s *Status) { s.Attempt = 3 }, false},
		{"other retry time", func(s *Status) { s.NextRetryAt = at.Add(time.Second) }, false},
		{"other error", func(s *Status) { s.LastError = "f" }, false},
	}
	for _, tt := range tests {
		other := base
		tt.edit(&other)
		if got := base.sameAs(other); got != tt.want {
			t.Errorf("%s: sameAs = %v, want %v", tt.name, got, tt.want)
		}
	}
}
