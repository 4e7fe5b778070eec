// Package dialect is the vocabulary every upstream dialect shares with the chat service: the
// domain types a frame decodes into (Message, TypingIndicator, ...), the decoded Event and the
// Result of one frame, the outgoing actions, the Mapper that turns an upstream's own field names
// and types into ours (field aliases, defaults, lenient filling, routes to topics), and the
// Profile file that configures all of it.
//
// A dialect (the subpackages envelope, socketio, centrifugo) knows one wire: how to frame, how
// to connect, how to answer heartbeats and acknowledgements. It decodes each frame once, with a
// Mapper, into Events that the chat service publishes, folds into its snapshots and acts on as
// they are; nothing above it parses a frame again.
//
// The package imports nothing of this module, so every layer may use it.
package dialect
