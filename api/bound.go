package api

import (
	"fmt"
	"net/http"
	"time"
)

// bound refuses a header above MaxHeaderBytes (431) and gives the request RequestTimeout to
// arrive, body included: a body that trickles in is cut (408). net/http watches for the client
// going away by reading under the same deadline, so a handler that waits longer than that sees
// its context end. serveStream lifts the deadline for its stream.
func (s *Server) bound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.boundRequest(w, r) { // apart, so that its frame is not on a stream's resting stack
			next.ServeHTTP(w, r)
		}
	})
}

// boundRequest answers 431 for a header too large (false), or sets the read deadline (true).
func (s *Server) boundRequest(w http.ResponseWriter, r *http.Request) bool {
	if headerSize(r) > s.cfg.MaxHeaderBytes {
		writeProblem(w, newProblem(http.StatusRequestHeaderFieldsTooLarge, "header-too-large",
			fmt.Sprintf("the request header is larger than %d bytes", s.cfg.MaxHeaderBytes)))
		return false
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout))
	return true
}

// headerSize is the size of a request's header as it came on the wire, near enough: the
// request line and every field line.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len("  \r\n") + len("Host: \r\n") + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return n
}
