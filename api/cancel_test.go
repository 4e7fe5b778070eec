package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCancelMessage: DELETE /messages/{id} takes a waiting message out (204) and reports it
// failed with the reason cancelled; then, and for a delivered one, 409; an unknown id 404.
func TestCancelMessage(t *testing.T) {
	r := newRig(t)
	if ex := r.do(t, http.MethodDelete, "/connection", "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("DELETE /connection: %d %s", ex.status, ex.body)
	}
	r.waitState(t, "stopped")
	c := r.openStream(t, "/events/messages")
	if ex := r.postJSON(t, "/messages", `{"conversation_id": "general", "content": "never mind", "client_message_id": "oops-1"}`); ex.status != http.StatusAccepted {
		t.Fatalf("POST /messages: %d %s", ex.status, ex.body)
	}
	if ex := r.do(t, http.MethodDelete, "/messages/oops-1", "", ""); ex.status != http.StatusNoContent || len(ex.body) != 0 {
		t.Fatalf("DELETE /messages/oops-1: %d %s, want 204", ex.status, ex.body)
	}
	for {
		e := c.nextEvent(t)
		if e.Event != "message.status" {
			continue
		}
		var st struct {
			ClientMessageID string `json:"client_message_id"`
			Status, Error   string
		}
		if err := json.Unmarshal([]byte(e.Data), &st); err != nil {
			t.Fatal(err)
		}
		if st.Status == "failed" {
			if st.ClientMessageID != "oops-1" || st.Error != "cancelled" {
				t.Errorf("status %+v, want oops-1 failed: cancelled", st)
			}
			break
		}
	}
	p := wantProblem(t, r.do(t, http.MethodDelete, "/messages/oops-1", "", ""), http.StatusConflict, "message-done")
	if !strings.Contains(p.Detail, "failed") {
		t.Errorf("detail %q does not name the status", p.Detail)
	}
	wantProblem(t, r.do(t, http.MethodDelete, "/messages/never-sent", "", ""), http.StatusNotFound, "unknown-message")
	wantProblem(t, r.do(t, http.MethodDelete, "/messages/not%20an%20id", "", ""), http.StatusUnprocessableEntity, "validation", "client_message_id")

	r.do(t, http.MethodPut, "/connection", "application/json", `{"access_token": "demo-token"}`)
	r.waitState(t, "connected")
	if ex := r.postJSON(t, "/messages", `{"conversation_id": "general", "content": "kept", "client_message_id": "kept-1"}`); ex.status != http.StatusAccepted {
		t.Fatalf("POST /messages: %d", ex.status)
	}
	waitFrame(t, r, "chat.message", "client_message_id", "kept-1")
	for r.svc.Queued() > 0 { // delivered once the echo is back
		c.nextEvent(t)
	}
	wantProblem(t, r.do(t, http.MethodDelete, "/messages/kept-1", "", ""), http.StatusConflict, "message-done")
}

func TestTopicList(t *testing.T) {
	r := newRig(t)
	ex := r.do(t, http.MethodGet, "/topics", "", "")
	if ex.status != http.StatusOK {
		t.Fatalf("GET /topics: %d", ex.status)
	}
	var got struct {
		Topics []struct {
			Name  string   `json:"name"`
			Types []string `json:"types"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(ex.body, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string][]string{}
	for _, tp := range got.Topics {
		names = append(names, tp.Name)
		byName[tp.Name] = tp.Types
	}
	if strings.Join(names, ",") != "messages,typing,presence,conversations,calls,errors,connection,raw" {
		t.Errorf("topics %v, want the built-in ones in their order", names)
	}
	if strings.Join(byName["messages"], ",") != "chat.message,message.status" ||
		strings.Join(byName["calls"], ",") != "call.accepted,call.ended,call.incoming,call.rejected" {
		t.Errorf("types %v", byName)
	}
}
