package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Member is one field of a JSON object.
type Member struct {
	Key string
	Val json.RawMessage
}

// Object is a JSON object's fields in their order, for the decodes that rename, fill or pick
// fields and must keep every field they do not know. It is a plain value; its methods are not
// safe for concurrent use on one Object.
type Object []Member

var errNotObject = errors.New("not an object")

// ParseObject reads one JSON object. A key given twice keeps its last value, in the place of
// its first (as encoding/json decodes it).
func ParseObject(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	o := Object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if i := o.Index(key); i >= 0 {
			o[i].Val = v
			continue
		}
		o = append(o, Member{key, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the object")
	}
	return o, nil
}

// Index returns the position of key, -1 when absent.
func (o Object) Index(key string) int {
	for i := range o {
		if o[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of key; absent and null are both reported as absent.
func (o Object) Get(key string) (json.RawMessage, bool) {
	i := o.Index(key)
	if i < 0 || isNull(o[i].Val) {
		return nil, false
	}
	return o[i].Val, true
}

// Set gives key the value v, in its place when present, else at the end.
func (o *Object) Set(key string, v json.RawMessage) {
	if i := o.Index(key); i >= 0 {
		(*o)[i].Val = v
		return
	}
	*o = append(*o, Member{key, v})
}

// Del removes key.
func (o *Object) Del(key string) {
	if i := o.Index(key); i >= 0 {
		*o = append((*o)[:i], (*o)[i+1:]...)
	}
}

// Lookup returns the value at path p inside the object (the object itself for the empty
// path); absent and null are both reported as absent.
func (o Object) Lookup(p Path) (json.RawMessage, bool) {
	if len(p) == 0 {
		return o.Encode(), true
	}
	v, ok := o.Get(p[0])
	if !ok {
		return nil, false
	}
	return lookup(v, p[1:])
}

// SetPath puts val at path p (at least one key) inside o, creating the objects on the way.
func (o *Object) SetPath(p Path, val json.RawMessage) {
	if len(p) == 1 {
		o.Set(p[0], val)
		return
	}
	var inner Object
	if cur, ok := o.Get(p[0]); ok {
		inner, _ = ParseObject(cur) // not an object: replaced
	}
	inner.SetPath(p[1:], val)
	o.Set(p[0], inner.Encode())
}

// Encode writes the object on one line.
func (o Object) Encode() []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key) // a string: cannot fail
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(compact(m.Val))
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// Path is a dotted path into nested JSON objects ("user.id"); the empty path is the value
// itself.
type Path []string

// ParsePath splits a dotted path; "" is the empty path.
func ParsePath(s string) Path {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

func (p Path) String() string { return strings.Join(p, ".") }

// lookup returns the value at path p inside the JSON value v.
func lookup(v json.RawMessage, p Path) (json.RawMessage, bool) {
	for _, k := range p {
		o, err := ParseObject(v)
		if err != nil {
			return nil, false
		}
		if v, _ = o.Get(k); v == nil {
			return nil, false
		}
	}
	return v, len(v) > 0 && !isNull(v)
}

// Lookup returns the value at path p inside the JSON value v.
func Lookup(v json.RawMessage, p Path) (json.RawMessage, bool) { return lookup(v, p) }

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// Compact returns JSON on one line, as an SSE data field needs it. The input must be valid
// JSON. JSON that is on one line already is returned as it is: the common case costs one scan.
func Compact(b []byte) []byte { return compact(b) }

func compact(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		// Unreachable for valid input; keep the bytes rather than lose the event.
		return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
	}
	return buf.Bytes()
}
