package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// RequestObserver is told of every request once its answer is complete: the route pattern
// ("/events/{topic}", never the raw path or query, which may hold a token), the status and the
// bytes of the body written. It must not block. cmd/bridge feeds it to the metrics.
type RequestObserver func(method, route string, status int, duration time.Duration, bytes int64)

// routeUnmatched stands for the route of a request no route matched (404, the web app's files).
const routeUnmatched = "unmatched"

// observe logs one access line per request and tells cfg.ObserveRequest. It never logs the
// query string or a header: the access_token parameter and the Authorization header hold
// secrets.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		s.observed(r, rec, start) // apart: its frame is not on a stream's resting stack
	})
}

// observed logs and reports one answered request.
func (s *Server) observed(r *http.Request, rec *recorder, start time.Time) {
	route := routeUnmatched
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		route = rc.RoutePattern()
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	d := time.Since(start)
	s.log.Info("http request", "method", r.Method, "route", route, "status", status,
		"duration", d, "bytes", rec.bytes)
	if s.cfg.ObserveRequest != nil {
		s.cfg.ObserveRequest(r.Method, route, status, d, rec.bytes)
	}
}

// recorder notes the status and size of an answer. It keeps http.ResponseController working
// (Flush, SetWriteDeadline) through Unwrap, as the SSE streams need.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush lets code that asserts http.Flusher keep working.
func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

// Unwrap gives http.ResponseController the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
