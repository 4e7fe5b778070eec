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
	if _, err := dec.Token(); err != io.EOF {
		return newProblem(http.StatusBadRequest, "malformed-body", "the body holds data after the JSON object")
	}
	return validate(dst)
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
