package ws

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps a server's Retry-After so a bogus answer cannot park the
// client for hours.
const maxRetryAfter = 10 * time.Minute

// backoff is the retry policy: exponential growth with full jitter, floored at
// min. The wait before retry number attempt (1 after the first failure) is drawn
// uniformly from [min, min(max, min*2^attempt)]. The floor keeps a fleet of
// clients from redialling a restarted server with zero delay; the jitter spreads
// them over the whole window. Attempt 0 (a reset counter) waits exactly min.
// A backoff is a plain value, safe for concurrent use if rand is.
type backoff struct {
	min, max time.Duration
	rand     func(n int64) int64 // uniform in [0, n); math/rand/v2.Int64N when nil
}

// ceiling is the upper bound of the window for attempt.
func (b backoff) ceiling(attempt int) time.Duration {
	c := b.min
	for i := 0; i < attempt && c < b.max; i++ {
		if c > b.max/2 {
			return b.max
		}
		c *= 2
	}
	return min(c, b.max)
}

// delay draws the wait before retry number attempt.
func (b backoff) delay(attempt int) time.Duration {
	ceil := b.ceiling(attempt)
	if ceil <= b.min {
		return b.min
	}
	rnd := b.rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return b.min + time.Duration(rnd(int64(ceil-b.min)+1))
}

// parseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP
// date, relative to now. It reports false for a missing, malformed, zero or past
// value; the result is capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := at.Sub(now)
	if d <= 0 {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}
