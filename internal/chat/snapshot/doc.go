// Package snapshot is the chat state a page loads before it follows the event stream: the
// conversations, the recent messages of each, presence and the open calls, each answer as of
// one event id. It is folded from the events the chat service publishes, in their order, with
// the values the dialect decoded (it parses no frame itself), and bounded in count and bytes.
package snapshot
