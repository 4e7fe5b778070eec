package centrifugo

import (
	"strings"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// Channel routes the publications of the channels that match Pattern: a channel name, or one
// with a single "*" that matches any run of characters (the conversation, unless the payload
// names one: "chat:*" takes "chat:general" to the conversation general).
type Channel struct {
	Pattern string
	Route   dialect.Route
}

// match reports whether channel matches the pattern, and what "*" stood for.
func (c Channel) match(channel string) (wild string, ok bool) {
	before, after, star := strings.Cut(c.Pattern, "*")
	if !star {
		return "", channel == c.Pattern
	}
	if len(channel) < len(before)+len(after) || !strings.HasPrefix(channel, before) || !strings.HasSuffix(channel, after) {
		return "", false
	}
	return channel[len(before) : len(channel)-len(after)], true
}

// channelOf fills a publish template: "chat:{conversation_id}" and the conversation general
// make "chat:general".
func channelOf(template, conversation string) string {
	return strings.ReplaceAll(template, "{conversation_id}", conversation)
}
