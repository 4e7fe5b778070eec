package main

// Browser tests of the shared stream (web/client.js) and of the page's accessibility: many
// tabs of one real Chromium on one real bridge, and axe-core run in the page.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatbridge/chatbridge/internal/demo"
	"github.com/chatbridge/chatbridge/internal/testparts"
)

// webTools is the npm folder of the web app's test tools (axe-core among them).
var webTools = filepath.Join("..", "..", "web", "testdata", "npm")

// recordJS runs in each page before its own scripts: it records every event the page's
// Bridge (client.js) hands it, so that a test can tell an event given twice from one given
// once (the page's store would hide the repeat). It wraps dispatchEvent, as no script of the
// page can see the Bridge object.
const recordJS = `(() => {
	window.__bridgeEvents = [];
	const dispatch = EventTarget.prototype.dispatchEvent;
	EventTarget.prototype.dispatchEvent = function (e) {
		if (this.constructor && this.constructor.name === 'Bridge') {
			window.__bridgeEvents.push({type: e.type, id: (e.detail && e.detail.id) || '',
				messageId: (e.type === 'chat.message' && e.detail.data && e.detail.data.id) || ''});
		}
		return dispatch.call(this, e);
	};
})()`

// recorded is one event a page's Bridge dispatched.
type recorded struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	MessageID string `json:"messageId"`
}

// openRecorded opens url in b with recordJS installed.
func (b *tab) openRecorded(url string) {
	b.t.Helper()
	b.run("open "+url, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordJS})
		return err
	}), chromedp.Navigate(url))
}

// events answers what the page's Bridge dispatched so far.
func (b *tab) events() []recorded {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepBound)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.__bridgeEvents ?? [])`))
	if err != nil {
		b.fatal("read the recorded events", err)
	}
	var out []recorded
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		b.t.Fatal(err)
	}
	return out
}

// onceEach checks that the page was handed no event id twice, no stream.reset, and each of
// the chat messages wantIDs exactly once.
func (b *tab) onceEach(name string, wantIDs []string) {
	b.t.Helper()
	seenID := map[string]int{}
	seenMsg := map[string]int{}
	for _, e := range b.events() {
		if e.Type == "reset" {
			b.t.Errorf("%s: the page was told to reset", name)
		}
		if e.ID != "" {
			seenID[e.ID]++
		}
		if e.MessageID != "" {
			seenMsg[e.MessageID]++
		}
	}
	for id, n := range seenID {
		if n != 1 {
			b.t.Errorf("%s: event %s handed to the page %d times", name, id, n)
		}
	}
	for _, id := range wantIDs {
		if seenMsg[id] != 1 {
			b.t.Errorf("%s: chat message %s handed to the page %d times, want 1", name, id, seenMsg[id])
		}
	}
}

// streamRole waits until the page says who holds its stream, and answers it.
func (b *tab) streamRole() string {
	b.t.Helper()
	return waitJS[string](b, "the stream's role", `() => document.documentElement.dataset.streamRole ?? ''`)
}

// axeSource is axe-core's script, read once.
var axeSource = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile(filepath.Join(webTools, "node_modules", "axe-core", "axe.min.js"))
})

// accessible runs axe-core in the page as it is now and fails the test for every violation
// of the WCAG 2.x A and AA rules (and axe's best practices).
func (b *tab) accessible(state string) {
	b.t.Helper()
	testparts.NodeModules(b.t, webTools)
	src, err := axeSource()
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 2*stepBound)
	defer cancel()
	report, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		if (!window.axe) { (0, eval)(`+jsString(string(src))+`); }
		return axe.run(document, {resultTypes: ['violations']}).then((r) => JSON.stringify(r.violations.map((v) =>
			({rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary)}))));
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatal("run axe-core ("+state+")", err)
	}
	var violations []struct {
		Rule, Impact, Help string
		Nodes              []string
	}
	if err := json.Unmarshal([]byte(report), &violations); err != nil {
		b.t.Fatal(err)
	}
	for _, v := range violations {
		b.t.Errorf("axe-core, %s: %s (%s, %s)\n  %s", state, v.Help, v.Rule, v.Impact, strings.Join(v.Nodes, "\n  "))
	}
	b.t.Logf("axe-core, %s: %d violations", state, len(violations))
}

// jsString quotes s as a JavaScript string literal (JSON's are).
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// broadcastMessages has the chat server send n chat messages from "dee" in general, one
// every pace (a burst the bridge streams while the test acts), and answers their ids at once;
// the error channel answers when the last is sent.
func broadcastMessages(up *demo.Server, prefix string, n int, pace time.Duration) ([]string, <-chan error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	done := make(chan error, 1)
	go func() {
		for i, id := range ids {
			if err := up.Broadcast("chat.message", map[string]any{
				"id": id, "conversation_id": "general", "sender_id": "dee",
				"content": fmt.Sprintf("%s %02d", prefix, i), "created_at": time.Now().UTC().Format(time.RFC3339Nano),
			}); err != nil {
				done <- err
				return
			}
			time.Sleep(pace)
		}
		done <- nil
	}()
	return ids, done
}

// shownOnce waits until the page lists the chat message with id, and checks it lists it once.
func (b *tab) shownOnce(what, id string) {
	b.t.Helper()
	n := waitJS[float64](b, what, `(id) => document.querySelectorAll('[data-testid=message][data-message-id="' + id + '"]').length`, id)
	if n != 1 {
		b.t.Errorf("%s: message %s listed %v times", what, id, n)
	}
}

// TestBrowserTenTabsShareOneStream: ten tabs of one browser all follow the chat over ONE
// event stream (the SharedWorker's), and a message sent in the first shows in the tenth.
func TestBrowserTenTabsShareOneStream(t *testing.T) {
	requireChromium(t)
	_, upURL := newBotUpstream(t)
	br := startBridge(t, nil, fastArgs(upURL)...)
	first := newTab(t)
	tabs := []*tab{first}
	for len(tabs) < 10 {
		tabs = append(tabs, first.openTab())
	}
	for i, tb := range tabs {
		tb.openRecorded(br.url + "/")
		tb.connectionIs("connected")
		if role := tb.streamRole(); role != "worker" {
			t.Errorf("tab %d: the stream is held by %q, want the SharedWorker", i+1, role)
		}
	}
	m, _ := scrape(t, br.url)
	if got := m[`bridge_sse_subscribers{topic="messages"}`]; got != 1 {
		t.Errorf("with ten tabs open the bridge has %v streams of messages, want 1", got)
	}

	id := tabs[0].send("hello from tab 1")
	tabs[0].visible("delivered in tab 1", messageSel(id, "delivered"))
	tabs[9].visible("tab 1's message in tab 10", messageSel(id, "delivered"))
	tabs[9].accessible("ten tabs")
	for i, tb := range tabs {
		tb.onceEach(fmt.Sprintf("tab %d", i+1), nil)
		tb.noExceptions()
	}
}

// TestBrowserTabHandsOverTheStream: without the SharedWorker (?shared=tab) one tab holds the
// stream, chosen by a Web Lock; closed in the middle of a burst of messages, another takes
// over, and every remaining tab is handed every message exactly once.
func TestBrowserTabHandsOverTheStream(t *testing.T) {
	requireChromium(t)
	up, upURL := newUpstream(t)
	br := startBridge(t, nil, fastArgs(upURL)...)
	browser := newTab(t) // stays blank: closing the browser's first tab would close the browser
	tabs := []*tab{browser.openTab(), browser.openTab(), browser.openTab()}
	leader := -1
	for i, tb := range tabs {
		tb.openRecorded(br.url + "/?shared=tab")
		tb.connectionIs("connected")
		switch role := tb.streamRole(); role {
		case "leader":
			if leader >= 0 {
				t.Fatalf("tabs %d and %d both hold the stream", leader+1, i+1)
			}
			leader = i
		case "follower":
		default:
			t.Fatalf("tab %d: role %q, want leader or follower", i+1, role)
		}
	}
	if leader != 0 {
		t.Fatalf("the stream is held by tab %d, want the first tab opened", leader+1)
	}
	m, _ := scrape(t, br.url)
	if got := m[`bridge_sse_subscribers{topic="messages"}`]; got != 1 {
		t.Errorf("with three tabs open the bridge has %v streams of messages, want 1", got)
	}

	// The holder closes in the middle of a burst: as soon as a follower has its first message.
	ids, sent := broadcastMessages(up, "burst", 60, 5*time.Millisecond)
	tabs[1].shownOnce("the burst starts in tab 2", ids[0])
	before := 0
	for _, e := range tabs[1].events() {
		if e.MessageID != "" {
			before++
		}
	}
	tabs[0].close()
	t.Logf("the holder closed when tab 2 had %d of the %d messages", before, len(ids))
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	rest := tabs[1:]
	for i, tb := range rest {
		tb.shownOnce(fmt.Sprintf("tab %d: the last message", i+2), ids[len(ids)-1])
	}
	roles := map[string]int{}
	for _, tb := range rest {
		roles[waitJS[string](tb, "a new holder", `() => document.documentElement.dataset.streamRole`)]++
	}
	if roles["leader"] != 1 || roles["follower"] != 1 {
		t.Errorf("after the holder closed the roles are %v, want one leader and one follower", roles)
	}
	for i, tb := range rest {
		tb.onceEach(fmt.Sprintf("tab %d", i+2), ids)
		for _, id := range ids {
			tb.shownOnce(fmt.Sprintf("tab %d", i+2), id)
		}
		tb.noExceptions()
	}
	// The closed tab's stream ends when the bridge notices it is gone; one stream is left.
	waitMetric(t, br.url, `bridge_sse_subscribers{topic="messages"}`, 1)
}

// staleSessionJS saves, in the tab's sessionStorage, what a page of an EARLIER run of the
// bridge would have left for a reload: a state with one message and the id it followed up to.
const staleSessionJS = `(() => {
	const prefix = 'chatbridge:' + location.origin + ':';
	if (sessionStorage.getItem(prefix + 'staged')) return; // the page's own reloads keep theirs
	sessionStorage.setItem(prefix + 'staged', '1');
	sessionStorage.setItem(prefix + 'last-event-id', 'zzzzzzzz-0000000000000007');
	sessionStorage.setItem(prefix + 'state', JSON.stringify({version: 1, state: {
		selfId: null, selected: 'general', conversations: [], seenUnread: [], presence: [], calls: [],
		messages: {general: [{key: 'm:stale-1', id: 'stale-1', conversation_id: 'general', sender_id: 'dee',
			content: 'from an earlier run', created_at: '2026-01-01T00:00:00Z', status: 'delivered', local: false}]},
	}}));
})()`

// TestBrowserResetReloads: a tab that resumes from an event id of an earlier run of the bridge
// (a reload after the bridge restarted) is told to reset, forgets what it had, loads the
// snapshots and follows on, on the stream another tab already holds.
func TestBrowserResetReloads(t *testing.T) {
	requireChromium(t)
	_, upURL := newUpstream(t)
	br := startBridge(t, nil, fastArgs(upURL)...)
	first := newTab(t)
	first.openRecorded(br.url + "/")
	first.connectionIs("connected")
	id := first.send("before the reload")
	first.visible("delivered", messageSel(id, "delivered"))

	second := first.openTab()
	second.run("stage an earlier run's session", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: staleSessionJS})
		return err
	}))
	second.openRecorded(br.url + "/")
	second.connectionIs("connected")
	second.visible("the snapshot's message", messageSel(id, "delivered"))
	waitJS[bool](second, "the earlier run's message gone", // waits until it is
		`() => !document.querySelector('[data-testid=message][data-message-id="stale-1"]')`)
	var order []string
	for _, e := range second.events() {
		if e.Type == "reset" || e.Type == "snapshot" {
			order = append(order, e.Type)
		}
	}
	if strings.Join(order, ",") != "reset,snapshot" {
		t.Errorf("the resumed tab was handed %v, want a reset then a snapshot", order)
	}
	if role := second.streamRole(); role != "worker" {
		t.Errorf("the resumed tab's stream is held by %q, want the SharedWorker", role)
	}
	second.noExceptions()
	first.onceEach("the first tab", nil)
}

// readmePage answers the page example of the README, pointed at the bridge at base.
func readmePage(t *testing.T, base string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- page example")
	block, _, ok2 := strings.Cut(rest, "<!-- end of page example -->")
	_, html, ok3 := strings.Cut(block, "```html\n")
	html, _, ok4 := strings.Cut(html, "```")
	if !ok || !ok2 || !ok3 || !ok4 {
		t.Fatal("README.md has no page example between its markers")
	}
	const example = "http://127.0.0.1:8080/"
	if strings.Count(html, example) != 2 {
		t.Fatalf("the README's page names %s %d times, want 2 (the import and the base)", example, strings.Count(html, example))
	}
	return strings.ReplaceAll(html, example, base+"/")
}

// TestBrowserReadmePage runs the README's page, served from another origin, in two tabs: it
// loads, follows one shared stream and sends; each tab lists the message once.
func TestBrowserReadmePage(t *testing.T) {
	requireChromium(t)
	_, upURL := newUpstream(t)
	var html atomic.Value
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, html.Load().(string))
	}))
	t.Cleanup(site.Close)
	br := startBridge(t, nil, append(fastArgs(upURL), "--allow-origin", site.URL)...)
	html.Store(readmePage(t, br.url))

	browser := newTab(t)
	tabs := []*tab{browser.openTab(), browser.openTab()}
	for _, tb := range tabs {
		tb.openRecorded(site.URL + "/")
		tb.run("the stream open", chromedp.WaitVisible(chromedp.CSS(`#say`)))
		waitJS[bool](tb, "the stream open", `() => document.title === 'general (open)'`)
	}
	const text = "hello from the README's page"
	tabs[0].run("send", chromedp.SendKeys(chromedp.CSS(`#say input`), text), chromedp.Click(chromedp.CSS(`#say button`)))
	for i, tb := range tabs {
		n := waitJS[float64](tb, "the message listed", `(text) => [...document.querySelectorAll('#log li')]
			.filter((li) => li.textContent.endsWith(': ' + text)).length`, text)
		if n != 1 {
			t.Errorf("tab %d lists the message %v times, want 1", i+1, n)
		}
		tb.onceEach(fmt.Sprintf("tab %d", i+1), nil)
		tb.noExceptions()
	}
	m, _ := scrape(t, br.url)
	if got := m[`bridge_sse_subscribers{topic="messages"}`]; got != 1 {
		t.Errorf("two tabs of the page hold %v streams of messages, want 1", got)
	}
}
