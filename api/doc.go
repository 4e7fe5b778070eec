// Package api is the bridge's HTTP face: the REST API that sends into the chat, the Server-Sent
// Events streams that carry the topics to browsers, and the problem+json answers for every error.
// routes.go lists the whole surface; each handler file holds one group of endpoints.
//
// The package reaches the chat only through internal/chat and the topics only through
// internal/hub; it never touches the WebSocket.
package api
