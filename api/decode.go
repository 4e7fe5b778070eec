package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxBody is the largest request body the API reads (over 64 KiB is 413).
const maxBody = 64 << 10

// decodeBody reads a JSON request body into dst and checks its rules. It returns nil, or the
// problem to answer: 415 for a Content-Type other than application/json, 413 over maxBody, 400
// for malformed JSON, a wrong JSON type, an unknown field, trailing data or invalid UTF-8, and 422
// with one entry per broken field. An empty body is allowed only when allowEmpty is set; dst then
// keeps its zero value and is still validated.
func decodeBody(r *http.Request, dst any, allowEmpty bool) *Problem {
	if p := requireJSON(r); p != nil {
		return p
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newProblem(http.StatusRequestEntityTooLarge, "body-too-large",
				fmt.Sprintf("the body is larger than %d bytes", maxBody))
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return newProblem(http.StatusRequestTimeout, "request-timeout", "the body did not arrive in time")
		}
		return newProblem(http.StatusBadRequest, "malformed-body", "the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if !allowEmpty {
			return newProblem(http.StatusBadRequest, "malformed-body", "the body is empty; a JSON object is required")
		}
		return validate(dst)
	}
	if !utf8.Valid(body) {
		return newProblem(http.StatusBadRequest, "malformed-body", "the body is not valid UTF-8")
	}
	if bytes.TrimSpace(body)[0] != '{' {
		return newProblem(http.StatusBadRequest, "malformed-body", "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return newProblem(http.StatusBadRequest, "malformed-body", describeJSONError(err))
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return newProblem(http.StatusBadRequest, "malformed-body", "the body holds data after the JSON object")
	}
	// encoding/json matches keys without regard to case and lets the last of two win; the
	// contract's field names are exact, and an input string must be Unicode text.
	lone, p := checkMembers(body, dst)
	if p != nil {
		return p
	}
	p = validate(dst)
	if len(lone) == 0 {
		return p
	}
	if p == nil {
		p = newProblem(http.StatusUnprocessableEntity, "validation", "the request breaks the input rules")
	}
	for _, f := range lone {
		p.Errors = append(p.Errors, FieldError{Field: f, Message: f + " must be Unicode text: it holds a lone UTF-16 surrogate escape"})
	}
	return p
}

// checkMembers reads the top-level members of a body that decoded into dst: a key that is not
// exactly one of dst's JSON field names, or one given twice, is a 400; it returns the fields
// whose string holds a lone surrogate escape (such as \ud800), which decoding turned into
// U+FFFD.
func checkMembers(body []byte, dst any) (lone []string, p *Problem) {
	names := fieldNames(dst)
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace: the body decoded already
		return nil, nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil
		}
		key, _ := tok.(string)
		switch {
		case !names[key]:
			return nil, newProblem(http.StatusBadRequest, "malformed-body", "unknown field "+strconv.Quote(key))
		case seen[key]:
			return nil, newProblem(http.StatusBadRequest, "malformed-body", "field "+strconv.Quote(key)+" is given twice")
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil
		}
		if len(v) > 0 && v[0] == '"' && hasLoneSurrogate(v) {
			lone = append(lone, key)
		}
	}
	return lone, nil
}

// fieldNamesOf caches fieldNames by type: reflect.Type -> map[string]bool (read only).
var fieldNamesOf sync.Map

// fieldNames is the set of JSON names of the fields of the struct dst points to.
func fieldNames(dst any) map[string]bool {
	t := reflect.TypeOf(dst)
	if names, ok := fieldNamesOf.Load(t); ok {
		return names.(map[string]bool)
	}
	names := jsonNames(t)
	fieldNamesOf.Store(t, names)
	return names
}

// jsonNames reads the JSON names of a struct type's fields (through pointers).
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return names
	}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = t.Field(i).Name
		}
		if name != "-" {
			names[name] = true
		}
	}
	return names
}

// hasLoneSurrogate reports whether the JSON string s (quotes included) holds a \uXXXX escape of
// a UTF-16 surrogate that is not part of a pair.
func hasLoneSurrogate(s []byte) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if s[i+1] != 'u' {
			i++ // an escape of one character: skip it whole (it may be a backslash)
			continue
		}
		r, ok := hex4(s, i+2)
		if !ok {
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+11 >= len(s) || s[i+6] != '\\' || s[i+7] != 'u' {
				return true
			}
			if lo, ok := hex4(s, i+8); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11 // the pair
		default:
			i += 5
		}
	}
	return false
}

// hex4 reads four hex digits at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 16)
	return rune(n), err == nil
}

// requireJSON answers 415 unless the request says its body is application/json (parameters such
// as charset=utf-8 allowed). Every state-changing request must carry it, even with no body, so
// that no cross-site form or text/plain request can reach a handler without a CORS preflight.
func requireJSON(r *http.Request) *Problem {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"Content-Type must be application/json")
	}
	return nil
}

// describeJSONError turns a decoder error into a message that names the field when it can and
// never repeats the input.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return fmt.Sprintf("field %s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return "the body must be a JSON object"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends too early"
	}
	msg := err.Error()
	const unknown = "json: unknown field "
	if len(msg) > len(unknown) && msg[:len(unknown)] == unknown {
		return "unknown field " + msg[len(unknown):]
	}
	return "malformed JSON"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "ptr", "struct", "map":
		return "value of the documented type"
	default:
		return "number"
	}
}
