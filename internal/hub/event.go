package hub

import (
	"bytes"
	"strings"
	"time"
)

// Event is one published event. Publish creates it and nobody changes it afterwards: every
// field, and the bytes of Data and Wire, may be read from any goroutine and must not be modified.
type Event struct {
	// Seq is the event's number in the hub's one sequence for all topics: 1, 2, 3, ...
	Seq uint64
	// ID is "<run>-<seq>", the SSE id: different across runs, strictly increasing within one
	// (as a string too: seq has a fixed width). Opaque to clients.
	ID string
	// Topic is the topic it was published on.
	Topic string
	// Type is the SSE event name (CR and LF replaced by spaces).
	Type string
	// Key is the conversation id subscribers filter on; "" means none.
	Key string
	// Data is the payload as published, without trailing line breaks. When it is one line (the
	// normal case) it shares its bytes with Wire.
	Data []byte
	// Wire is the whole SSE frame, ready to write to any subscriber:
	// "id: <ID>\nevent: <Type>\ndata: <Data>\n\n". The event line is left out when Type is "";
	// Data with line breaks becomes one data line per line (the browser joins them with "\n").
	Wire []byte
	// At is when the event was published.
	At time.Time
}

const idField = "id: "

// oneLine makes typ safe for an SSE field: a CR or LF would end the field and let the rest
// inject fields of its own (the type may come from upstream input).
func oneLine(typ string) string {
	if !strings.ContainsAny(typ, "\r\n") {
		return typ
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, typ)
}

// hasLineBreak reports whether b holds a CR or LF (two vectorised scans beat one IndexAny).
func hasLineBreak(b []byte) bool {
	return bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

// frame builds the SSE frame of one event with idLen bytes at wire[len(idField):] left for the
// id, which Publish fills in once it knows the sequence number. typ must be one line and data
// must not end with a line break. body is what Event.Data holds: a slice of wire when data is
// one line, else a copy of data.
func frame(idLen int, typ string, data []byte) (wire, body []byte) {
	n := len(idField) + idLen + 1 + len("data: ") + len(data) + 2
	if typ != "" {
		n += len("event: ") + len(typ) + 1
	}
	multi := hasLineBreak(data)
	if multi {
		n += bytes.Count(data, []byte{'\n'})*len("data: ") + bytes.Count(data, []byte{'\r'})*len("data: ")
	}
	wire = make([]byte, len(idField)+idLen, n)
	copy(wire, idField)
	wire = append(wire, '\n')
	if typ != "" {
		wire = append(wire, "event: "...)
		wire = append(wire, typ...)
		wire = append(wire, '\n')
	}
	if !multi {
		wire = append(wire, "data: "...)
		off := len(wire)
		wire = append(wire, data...)
		body = wire[off:len(wire):len(wire)]
		return append(wire, "\n\n"...), body
	}
	// SSE ends a line at CRLF, LF or CR; each line becomes its own data field.
	rest := data
	for {
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			break
		}
		wire = append(wire, "data: "...)
		wire = append(wire, rest[:i]...)
		wire = append(wire, '\n')
		if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
			i++
		}
		rest = rest[i+1:]
	}
	wire = append(wire, "data: "...)
	wire = append(wire, rest...)
	return append(wire, "\n\n"...), bytes.Clone(data)
}
