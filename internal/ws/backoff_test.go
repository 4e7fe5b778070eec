package ws

import (
	"math"
	"net/http"
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	b := backoff{min: 500 * time.Millisecond, max: 30 * time.Second}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 500 * time.Millisecond}, // reset counter: the floor
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{5, 16 * time.Second},
		{6, 30 * time.Second}, // 32s capped
		{7, 30 * time.Second},
		{1000, 30 * time.Second},
		{math.MaxInt, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := b.ceiling(tt.attempt); got != tt.want {
			t.Errorf("ceiling(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestBackoffCeilingNoOverflow(t *testing.T) {
	b := backoff{min: time.Duration(math.MaxInt64 / 3), max: time.Duration(math.MaxInt64)}
	prev := b.min
	for attempt := range 10 {
		c := b.ceiling(attempt)
		if c < prev || c > b.max {
			t.Fatalf("ceiling(%d) = %v after %v, want monotonic within [min, max]", attempt, c, prev)
		}
		prev = c
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: time.Second}
	for attempt := range 12 {
		ceil := b.ceiling(attempt)
		for range 500 {
			if d := b.delay(attempt); d < b.min || d > ceil {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, b.min, ceil)
			}
		}
	}
}

func TestBackoffDelayUsesWholeWindow(t *testing.T) {
	lowest := backoff{min: time.Second, max: time.Minute, rand: func(int64) int64 { return 0 }}
	highest := backoff{min: time.Second, max: time.Minute, rand: func(n int64) int64 { return n - 1 }}
	for attempt := range 10 {
		if d := lowest.delay(attempt); d != time.Second {
			t.Errorf("lowest delay(%d) = %v, want the floor 1s", attempt, d)
		}
		if d, want := highest.delay(attempt), highest.ceiling(attempt); d != want {
			t.Errorf("highest delay(%d) = %v, want the ceiling %v", attempt, d, want)
		}
	}
}

func TestBackoffMinEqualsMax(t *testing.T) {
	b := backoff{min: time.Second, max: time.Second}
	for attempt := range 5 {
		if d := b.delay(attempt); d != time.Second {
			t.Errorf("delay(%d) = %v, want 1s", attempt, d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"0", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"600", maxRetryAfter, true},
		{"99999999999999999", maxRetryAfter, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{now.Format(http.TimeFormat), 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
