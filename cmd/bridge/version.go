package main

import (
	"runtime"
	"runtime/debug"
)

// versionLine is what --version prints: the module version from the build information (a
// tagged version for `go install ...@vX`, "(devel)" for a build from a checkout), the VCS
// revision when the build recorded one, and the Go version.
func versionLine() string {
	version, revision := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				revision = " " + s.Value[:12]
			}
		}
	}
	return "chatbridge " + version + revision + " " + runtime.Version()
}
