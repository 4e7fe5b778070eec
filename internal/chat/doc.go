// Package chat is the domain of the bridge: the entity types of the upstream chat protocol
// (shared/PROTOCOL.md), the decoding of the envelope every frame travels in, the routing table
// from a frame's type to the topic browsers read, and the operations that build outgoing frames.
//
// It knows nothing about HTTP. It reaches the upstream through the small Transport interface it
// declares, and the browsers through the topics of internal/hub.
package chat
