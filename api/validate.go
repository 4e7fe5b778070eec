package api

import (
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// Input rules (the request schemas of openapi.yaml), as validator tags:
//
//	ident    conversation_id, call_id: 1-128 characters, no whitespace or control characters
//	content  1-10000 code points, not only whitespace, no control characters but tab and newlines
//	clientid client_message_id: 1-64 characters of A-Z a-z 0-9 . _ : -
var validate = newValidator()

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ruleMessages explains each tag in the words a client sees in a problem's errors.
var ruleMessages = map[string]string{
	"required": "is required",
	"ident":    "must be 1-128 characters with no whitespace or control characters",
	"content":  "must be 1-10000 characters, not only whitespace, with no control characters",
	"clientid": "must be 1-64 characters of A-Z a-z 0-9 . _ : -",
	"token":    "must be 1-4096 printable characters",
	"max":      "is too long",
}

func newValidator() func(any) *Problem {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(tag string, fn func(string) bool) {
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
			return fn(fl.Field().String())
		}); err != nil {
			panic(err) // a programming error in the tag table
		}
	}
	must("ident", validIdent)
	must("content", validContent)
	must("clientid", clientIDPattern.MatchString)
	must("token", validToken)
	return func(dst any) *Problem {
		err := v.Struct(dst)
		if err == nil {
			return nil
		}
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return newProblem(http.StatusBadRequest, "malformed-body", "the body could not be checked")
		}
		p := newProblem(http.StatusUnprocessableEntity, "validation", "the request breaks the input rules")
		for _, fe := range verrs {
			msg, ok := ruleMessages[fe.Tag()]
			if !ok {
				msg = "is not valid"
			}
			p.Errors = append(p.Errors, FieldError{Field: fe.Field(), Message: fe.Field() + " " + msg})
		}
		return p
	}
}

func validIdent(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 128 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func validContent(s string) bool {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > 10000 || strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

func validToken(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 4096 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}
