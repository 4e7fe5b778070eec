// Package chatbridge holds the files of the repository root that the binary embeds: the OpenAPI
// document of the HTTP API. The code lives in cmd/bridge, api and internal.
package chatbridge

import _ "embed"

// OpenAPI is openapi.yaml, the description of the bridge's HTTP API. Read-only.
//
//go:embed openapi.yaml
var OpenAPI []byte
