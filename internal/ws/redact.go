package ws

import (
	"errors"
	"net/url"
	"strings"
)

// redactedText replaces every secret-bearing part of a URL or error text.
const redactedText = "REDACTED"

// redactURL renders u with its userinfo and every query value replaced, and
// without its fragment: ws://host/chat?room=REDACTED&token=REDACTED. A query
// part without "=" is replaced whole, since it may be a bare secret.
func redactURL(u *url.URL) string {
	r := *u
	if r.User != nil {
		r.User = url.User(redactedText)
	}
	if r.RawQuery != "" {
		parts := strings.Split(r.RawQuery, "&")
		for i, p := range parts {
			key, _, hasValue := strings.Cut(p, "=")
			if hasValue {
				parts[i] = key + "=" + redactedText
			} else if p != "" {
				parts[i] = redactedText
			}
		}
		r.RawQuery = strings.Join(parts, "&")
	}
	r.Fragment, r.RawFragment = "", ""
	return r.String()
}

// redactRawURL is redactURL for text that did not parse as a URL: everything
// from the first '?' or '#' is cut, and userinfo before '@' is replaced.
func redactRawURL(raw string) string {
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?" + redactedText
	}
	rest, scheme := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		rest = redactedText + rest[at:]
	}
	return scheme + rest
}

// redactError returns err with any *url.Error in its chain rebuilt around
// safeURL (a *url.Error prints its whole URL, query token included), and with
// every occurrence of secret (raw or query-escaped) scrubbed from its text.
// errors.Is on the result still sees the original chain.
func redactError(err error, safeURL, secret string) error {
	if err == nil {
		return nil
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = &url.Error{Op: ue.Op, URL: safeURL, Err: ue.Err}
	}
	if secret == "" {
		return err
	}
	msg := err.Error()
	scrubbed := strings.ReplaceAll(msg, secret, redactedText)
	if esc := url.QueryEscape(secret); esc != secret {
		scrubbed = strings.ReplaceAll(scrubbed, esc, redactedText)
	}
	if scrubbed == msg {
		return err
	}
	return &scrubbedError{msg: scrubbed, err: err}
}

// scrubbedError carries a redacted message while keeping the original chain
// for errors.Is.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
