package chat

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog logs a warning at most once per interval for each kind, saying how many of that kind
// it left out since the last line: a relay server that carries plain text among the JSON would
// otherwise write one line per frame. Safe for concurrent use.
type rateLog struct {
	out   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	left map[string]int
}

func newRateLog(log *slog.Logger, every time.Duration) *rateLog {
	return &rateLog{out: log, every: every, last: map[string]time.Time{}, left: map[string]int{}}
}

// log writes msg with args unless a line of this kind was written within the interval.
func (r *rateLog) log(msg, kind string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	if t, ok := r.last[kind]; ok && now.Sub(t) < r.every {
		r.left[kind]++
		r.mu.Unlock()
		return
	}
	left := r.left[kind]
	if len(r.last) > 1000 { // kinds come from a fixed set of reasons; bound it all the same
		clear(r.last)
		clear(r.left)
	}
	r.last[kind], r.left[kind] = now, 0
	r.mu.Unlock()
	if left > 0 {
		args = append(args, "suppressed", left)
	}
	r.out.Warn(msg, args...)
}
