package hub

import (
	"crypto/rand"
	"strings"
)

// An event id is "<run>-<seq>": run is a random token of runLen lowercase base32 characters
// chosen by New, seq is the event's sequence number as seqDigits lowercase hex digits. The fixed
// width makes ids of one run increase strictly both as numbers and as strings (a client that
// compares ids as strings sees the same order); the run makes ids of two runs differ.
const (
	runLen    = 8  // 40 random bits
	seqDigits = 16 // a whole uint64
)

// Reasons a Subscribe could not resume from its lastID, as Sub.Reset reports them. In every
// case the subscription starts at the newest event, so the client missed events and should
// reload its state (from a snapshot).
const (
	// ResetExpired: the id is from this run, but events after it have already left the history.
	ResetExpired = "expired"
	// ResetUnknownRun: the id has the form of an event id but another run's token (the bridge
	// restarted since the client saw it).
	ResetUnknownRun = "unknown_run"
	// ResetInvalid: the id is not an event id, or it names an event this run has not published.
	ResetInvalid = "invalid"
)

// newRun returns a fresh run token.
func newRun() string {
	return strings.ToLower(rand.Text()[:runLen])
}

// formatID returns the id of seq in the run whose prefix ("<run>-") is given.
func formatID(prefix string, seq uint64) string {
	var b [64]byte
	n := copy(b[:], prefix)
	putSeq(b[n:n+seqDigits], seq)
	return string(b[:n+seqDigits])
}

// putSeq writes seq as len(dst) lowercase hex digits (len(dst) is seqDigits).
func putSeq(dst []byte, seq uint64) {
	const hex = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hex[seq&0xf]
		seq >>= 4
	}
}

// parseSeq reads exactly seqDigits lowercase hex digits.
func parseSeq(s string) (uint64, bool) {
	if len(s) != seqDigits {
		return 0, false
	}
	var seq uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			seq = seq<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			seq = seq<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return seq, true
}

// ParseID returns the sequence number of id when id is an event id of this hub's run; ok is
// false for anything else. It does not say whether the event is still in the history. ParseID
// is safe for concurrent use.
func (h *Hub) ParseID(id string) (seq uint64, ok bool) {
	rest, found := strings.CutPrefix(id, h.prefix)
	if !found {
		return 0, false
	}
	return parseSeq(rest)
}

// classify parses a client's resume id: the seq when it is from this run, else why not
// (ResetUnknownRun or ResetInvalid). It does not look at the history.
func (h *Hub) classify(id string) (uint64, string) {
	if seq, ok := h.ParseID(id); ok {
		return seq, ""
	}
	run, seq, found := strings.Cut(id, "-")
	if !found || len(run) != runLen || !isRunToken(run) {
		return 0, ResetInvalid
	}
	if _, ok := parseSeq(seq); !ok {
		return 0, ResetInvalid
	}
	return 0, ResetUnknownRun
}

func isRunToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}
