package dialect

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// ProfileError is a profile file's fault: which file, which key, what is wrong, and where.
type ProfileError struct {
	File string // the file's name as given
	Key  string // dotted key ("envelope.lenient"); "" for the file as a whole
	Msg  string
	Line int // 0 when unknown
}

func (e *ProfileError) Error() string {
	var b strings.Builder
	b.WriteString("profile ")
	b.WriteString(e.File)
	if e.Key != "" {
		b.WriteString(": key ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// Section is one mapping of a profile (the file itself, or a key's value) being read: each
// getter takes a key, and Done refuses every key no getter asked for. The getters record the
// first error; later calls return zero values and Err keeps that first error.
type Section struct {
	file string
	path string // dotted key of this section; "" at the top
	node *yaml.Node
	seen map[string]bool
	err  error
	subs []*Section // handed out by Section: Done checks them too
}

func newSection(file, path string, n *yaml.Node) *Section {
	s := &Section{file: file, path: path, node: n, seen: map[string]bool{}}
	if n != nil && n.Kind != yaml.MappingNode {
		s.fail("", "must be a mapping of keys", n.Line)
		s.node = nil
	}
	return s
}

func (s *Section) key(k string) string {
	if s.path == "" {
		return k
	}
	return s.path + "." + k
}

func (s *Section) fail(k, msg string, line int) {
	if s.err != nil {
		return
	}
	key := s.path
	if k != "" {
		key = s.key(k)
	}
	s.err = &ProfileError{File: s.file, Key: key, Msg: msg, Line: line}
}

// Err returns the first error of the section's getters, or of Done.
func (s *Section) Err() error { return s.err }

// value returns the node of key k, nil when absent, and marks it seen.
func (s *Section) value(k string) *yaml.Node {
	s.seen[k] = true
	if s.node == nil {
		return nil
	}
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		if s.node.Content[i].Value == k {
			v := s.node.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return nil
			}
			return v
		}
	}
	return nil
}

// Has reports whether key k is given (and not null).
func (s *Section) Has(k string) bool {
	if s.node == nil {
		return false
	}
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		if s.node.Content[i].Value == k {
			v := s.node.Content[i+1]
			return !(v.Kind == yaml.ScalarNode && v.Tag == "!!null")
		}
	}
	return false
}

// String returns the string at k, or def when absent.
func (s *Section) String(k, def string) string {
	v := s.value(k)
	if v == nil || s.err != nil {
		return def
	}
	if v.Kind != yaml.ScalarNode {
		s.fail(k, "must be a string", v.Line)
		return def
	}
	return v.Value
}

// OneOf returns the string at k, which must be one of allowed, or def when absent.
func (s *Section) OneOf(k, def string, allowed ...string) string {
	if !s.Has(k) {
		s.seen[k] = true
		return def
	}
	v := s.String(k, def)
	if s.err == nil && !slices.Contains(allowed, v) {
		s.fail(k, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")), s.line(k))
		return def
	}
	return v
}

// Bool returns the boolean at k, or def when absent.
func (s *Section) Bool(k string, def bool) bool {
	v := s.value(k)
	if v == nil || s.err != nil {
		return def
	}
	b, err := strconv.ParseBool(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil {
		s.fail(k, "must be true or false", v.Line)
		return def
	}
	return b
}

// Strings returns the list of strings at k; a single string is a list of one.
func (s *Section) Strings(k string) []string {
	v := s.value(k)
	if v == nil || s.err != nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return []string{v.Value}
	}
	if v.Kind != yaml.SequenceNode {
		s.fail(k, "must be a list of strings", v.Line)
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		if item.Kind != yaml.ScalarNode {
			s.fail(k, "must be a list of strings", item.Line)
			return nil
		}
		out = append(out, item.Value)
	}
	return out
}

// StringMap returns the mapping of strings to strings at k.
func (s *Section) StringMap(k string) map[string]string {
	sub := s.Section(k)
	if sub.node == nil {
		return nil
	}
	out := make(map[string]string, len(sub.node.Content)/2)
	for _, name := range sub.Keys() {
		out[name] = sub.String(name, "")
	}
	return out
}

// Section returns the mapping at k as a Section of its own (empty when absent). Its errors,
// unknown keys included, are the parent's too: the parent's Done calls its Done.
func (s *Section) Section(k string) *Section {
	sub := newSection(s.file, s.key(k), s.value(k))
	s.subs = append(s.subs, sub)
	return sub
}

// Mapping returns the value at k as a Section when it is a mapping, else nil (the key is then
// left for the other getters).
func (s *Section) Mapping(k string) *Section {
	if v := s.value(k); v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	return s.Section(k)
}

// Unseen marks k as asked for by no getter, so that Done refuses it.
func (s *Section) Unseen(k string) { delete(s.seen, k) }

// Keys lists the section's keys, in file order, marking each seen.
func (s *Section) Keys() []string {
	if s.node == nil {
		return nil
	}
	var keys []string
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		k := s.node.Content[i].Value
		s.seen[k] = true
		keys = append(keys, k)
	}
	return keys
}

// JSON returns the value at k converted to JSON (mappings keep their order), or nil when
// absent.
func (s *Section) JSON(k string) json.RawMessage {
	v := s.value(k)
	if v == nil || s.err != nil {
		return nil
	}
	b, err := nodeJSON(v, 0)
	if err != nil {
		s.fail(k, err.Error(), v.Line)
		return nil
	}
	return b
}

// nodeJSON writes a YAML node as JSON.
func nodeJSON(n *yaml.Node, depth int) ([]byte, error) {
	if depth > 32 {
		return nil, errors.New("is nested too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nodeJSON(n.Alias, depth+1)
	case yaml.MappingNode:
		var o Object
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeJSON(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			o.Set(n.Content[i].Value, v)
		}
		if o == nil {
			return []byte("{}"), nil
		}
		return o.Encode(), nil
	case yaml.SequenceNode:
		items := make([]json.RawMessage, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeJSON(c, depth+1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return json.Marshal(items)
	case yaml.ScalarNode:
		var x any
		if err := n.Decode(&x); err != nil {
			return nil, errors.New("is not a plain value")
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, errors.New("cannot be written as JSON")
		}
		return b, nil
	}
	return nil, errors.New("is not a plain value")
}

// line returns the line of key k's value, 0 when absent.
func (s *Section) line(k string) int {
	if s.node == nil {
		return 0
	}
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		if s.node.Content[i].Value == k {
			return s.node.Content[i+1].Line
		}
	}
	return 0
}

// Fail records an error about key k of this section (for checks the getters cannot make).
func (s *Section) Fail(k, msg string) { s.fail(k, msg, s.line(k)) }

// Done refuses the keys no getter asked for, and returns the section's first error.
func (s *Section) Done() error {
	for _, sub := range s.subs {
		if err := sub.Done(); err != nil && s.err == nil {
			s.err = err
		}
	}
	s.subs = nil
	if s.err != nil || s.node == nil {
		return s.err
	}
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		kn := s.node.Content[i]
		if !s.seen[kn.Value] {
			known := slices.Sorted(maps.Keys(s.seen))
			s.fail(kn.Value, "is not a known key (known here: "+strings.Join(known, ", ")+")", kn.Line)
			break
		}
	}
	return s.err
}
