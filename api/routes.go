package api

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/web"
)

// Handler returns the bridge's whole HTTP surface (openapi.yaml). It is the only place
// that names a path; openapi.yaml documents exactly these routes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	app := web.Handler()
	// The web app's files (/app.js, /app.css, ...) are served where no API route matches; "/"
	// is routed (and documented) like every endpoint.
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if web.Has(r.URL.Path) {
				app.ServeHTTP(w, r)
				return
			}
		}
		notFound(w, r)
	})
	r.MethodNotAllowed(methodNotAllowed(r))
	r.Use(s.observe, s.recoverPanics, s.bound, s.cfg.Security.Middleware)

	r.Method(http.MethodPost, "/messages", s.handlePostMessage())
	r.Method(http.MethodDelete, "/messages/{client_message_id}", s.handleDeleteMessage())
	r.Method(http.MethodPost, "/typing", s.handlePostTyping())
	r.Method(http.MethodPost, "/calls/{call_id}/accept", s.handleCall(chat.CallAccept))
	r.Method(http.MethodPost, "/calls/{call_id}/reject", s.handleCall(chat.CallReject))
	r.Method(http.MethodPost, "/calls/{call_id}/end", s.handleCall(chat.CallEnd))

	r.Method(http.MethodGet, "/connection", s.handleGetConnection())
	r.Method(http.MethodPut, "/connection", s.handlePutConnection())
	r.Method(http.MethodDelete, "/connection", s.handleDeleteConnection())

	r.Method(http.MethodGet, "/conversations", s.handleConversations())
	r.Method(http.MethodGet, "/conversations/{conversation_id}/messages", s.handleMessages())
	r.Method(http.MethodGet, "/presence", s.handlePresence())
	r.Method(http.MethodGet, "/calls", s.handleCalls())

	r.Method(http.MethodGet, "/topics", s.handleTopics())
	r.Method(http.MethodGet, "/events", s.handleEvents())
	r.Method(http.MethodGet, "/events/{topic}", s.handleTopicEvents())

	r.Method(http.MethodGet, "/healthz", s.handleHealthz())
	r.Method(http.MethodGet, "/readyz", s.handleReadyz())
	r.Method(http.MethodGet, "/openapi.yaml", s.handleOpenAPI())
	r.Method(http.MethodGet, "/", app)
	r.Method(http.MethodGet, "/metrics", s.handleMetrics())
	return r
}

// recoverPanics turns a handler panic into a 500 problem and a log line, instead of a dropped
// connection. http.ErrAbortHandler passes through, as net/http expects.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "method", r.Method, "route", chi.RouteContext(r.Context()).RoutePattern())
				writeProblem(w, newProblem(http.StatusInternalServerError, "internal", "the bridge failed to answer; see its log"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(s.cfg.OpenAPI)
	})
}

// handleMetrics serves cfg.Metrics; a Server built without one (tests) has no metrics to show.
func (s *Server) handleMetrics() http.Handler {
	if s.cfg.Metrics != nil {
		return s.cfg.Metrics
	}
	return http.HandlerFunc(notFound)
}

// pathParam returns a path parameter decoded: chi matches on the escaped path and hands its
// parameters over still percent-encoded ("team%3Ageneral"), while ids are compared decoded. A
// value that does not decode is returned as it is, to fail the caller's own checks.
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}
