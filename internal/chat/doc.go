// Package chat is the service in the middle of the bridge: it drives the upstream connection
// (it is the ws.Handler the client runs) through a dialect that decodes each frame once, and
// publishes what the frames said on the topics browsers read, folding every event into the
// snapshot state (package snapshot) under the same lock. It turns the operations the HTTP API
// asks for (send a message, typing, call actions) into frames through the same dialect, and
// holds accepted messages in an outbox until the upstream acknowledges them.
//
// It knows nothing about HTTP, and nothing of any wire: the Dialect and Transport interfaces it
// declares are all it needs of them.
package chat
