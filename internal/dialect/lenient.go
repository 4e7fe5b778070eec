package dialect

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// kindFields names, per domain type, the fields that hold ids (a number is taken as its
// digits), the fields that hold timestamps (an epoch number is taken as seconds, or
// milliseconds when it is that large), and what fills each field a payload lacks.
var kindFields = map[string]struct {
	ids, times []string
	fills      []filler
}{
	TypeChatMessage: {
		ids: []string{"id", "conversation_id", "sender_id", "client_message_id"}, times: []string{"created_at"},
		fills: []filler{{"id", fillMessageID}, {"sender_id", fillSender}, {"created_at", fillNow}},
	},
	TypeTypingIndicator: {
		ids:   []string{"conversation_id", "user_id"},
		fills: []filler{{"user_id", fillUnknown}, {"is_typing", fillTrue}},
	},
	TypeUserStatus: {
		ids: []string{"user_id"}, times: []string{"last_seen"},
		fills: []filler{{"status", fillOnline}},
	},
	TypeConversationUpdate: {ids: []string{"conversation_id"}, times: []string{"updated_at"}},
	TypeCallIncoming: {
		ids: []string{"call_id", "conversation_id", "caller_id"}, times: []string{"created_at"},
		fills: []filler{{"caller_id", fillUnknown}, {"media", fillAudio}, {"created_at", fillNow}},
	},
	TypeCallAccepted: {ids: []string{"call_id", "user_id"}},
	TypeCallRejected: {ids: []string{"call_id", "user_id"}},
	TypeCallEnded:    {ids: []string{"call_id", "user_id"}},
	TypeError: {
		ids:   []string{"code", "ref"},
		fills: []filler{{"code", fillErrorCode}, {"message", fillNoMessage}},
	},
}

// filler fills one field a payload lacks: fn returns the JSON value.
type filler struct {
	name string
	fn   func(c fillContext) json.RawMessage
}

// fillContext is what a filler may use.
type fillContext struct {
	o      Object // the payload as renamed so far
	unit   []byte
	env    Env
	userID string
}

// UnknownUser is the sender_id (or user_id, caller_id) lenient filling gives a payload that
// names nobody.
const UnknownUser = "unknown"

// SelfUser is the sender_id lenient filling gives the echo of the bridge's own message when the
// profile does not name the bridge's user.
const SelfUser = "me"

func quote(s string) json.RawMessage { return strconv.AppendQuote(nil, s) }

func fillMessageID(c fillContext) json.RawMessage {
	if v, ok := c.o.Get("client_message_id"); ok {
		if s, ok := asString(v); ok && s != "" {
			return quote(s)
		}
	}
	return quote(Digest(c.unit))
}

func fillSender(c fillContext) json.RawMessage {
	if v, ok := c.o.Get("client_message_id"); ok && c.env.Own != nil {
		if s, ok := asString(v); ok && s != "" && c.env.Own(s) {
			if c.userID != "" {
				return quote(c.userID)
			}
			return quote(SelfUser)
		}
	}
	return quote(UnknownUser)
}

func fillNow(c fillContext) json.RawMessage   { return quote(timeText(c.env.At)) }
func fillUnknown(fillContext) json.RawMessage { return quote(UnknownUser) }
func fillTrue(fillContext) json.RawMessage    { return json.RawMessage("true") }
func fillOnline(fillContext) json.RawMessage  { return quote("online") }
func fillAudio(fillContext) json.RawMessage   { return quote("audio") }

func fillErrorCode(fillContext) json.RawMessage { return quote("error") }
func fillNoMessage(fillContext) json.RawMessage { return quote("(no message)") }

// fill makes a payload of type typ whole: ids given as numbers become strings, epoch
// timestamps become RFC 3339, a timestamp that does not parse is replaced by the arrival time,
// and each field the type needs and the payload lacks (absent, null or "") is filled. The
// filled fields are listed in a "filled" field at the end.
func fill(typ string, o *Object, unit []byte, env Env, userID string) {
	kf, ok := kindFields[typ]
	if !ok {
		return
	}
	for _, name := range kf.ids {
		if v, ok := o.Get(name); ok && isNumber(v) {
			o.Set(name, quote(string(bytes.TrimSpace(v))))
		}
	}
	var filled []string
	for _, name := range kf.times {
		v, ok := o.Get(name)
		if !ok {
			continue
		}
		if t, ok := epoch(v); ok {
			o.Set(name, quote(timeText(t)))
		} else if s, ok := asString(v); !ok || badTime(s) {
			o.Set(name, quote(timeText(env.At)))
			filled = append(filled, name)
		}
	}
	c := fillContext{o: *o, unit: unit, env: env, userID: userID}
	for _, fl := range kf.fills {
		if v, ok := o.Get(fl.name); ok && string(v) != `""` {
			continue
		}
		c.o = *o
		o.Set(fl.name, fl.fn(c))
		filled = append(filled, fl.name)
	}
	if len(filled) > 0 {
		b, _ := json.Marshal(filled) // strings: cannot fail
		o.Set("filled", b)
	}
}

func asString(v json.RawMessage) (string, bool) {
	var s string
	return s, json.Unmarshal(v, &s) == nil
}

func isNumber(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

// epoch reads a number of seconds since 1970, or of milliseconds when it is above 10^11 (a
// count of seconds that large is past the year 5000).
func epoch(v json.RawMessage) (time.Time, bool) {
	if !isNumber(v) {
		return time.Time{}, false
	}
	n, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	if n > 1e11 {
		return time.UnixMilli(int64(n)), true
	}
	sec := int64(n)
	return time.Unix(sec, int64((n-float64(sec))*1e9)), true
}
