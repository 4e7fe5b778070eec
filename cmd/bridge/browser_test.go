package main

// The browser test: a real headless Chromium drives the real page, served by a real bridge
// (run() on port 0) connected to a real demo chat server with its bots.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/chatbridge/chatbridge/internal/demo"
	"github.com/chatbridge/chatbridge/internal/testparts"
)

const (
	chromiumPath = "/usr/bin/chromium" // Debian's; CI runs `apt-get install -y chromium`
	// browserBound bounds the whole browser session and stepBound each wait in it: a hang
	// fails the test instead of hanging it. Neither is a timing assertion.
	browserBound = 120 * time.Second
	stepBound    = 15 * time.Second
	// botPace keeps ada's "is typing" on screen for 1.5 paces, long enough for the page to
	// render it between the typing.indicator and her reply even on a busy machine.
	botPace = 200 * time.Millisecond
)

// requireChromium skips (or, in CI, fails) a browser test where Chromium is missing, before
// the test starts anything else.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testparts.Missing(t, "Chromium at "+chromiumPath, "apt-get install -y chromium")
	}
}

// newBotUpstream is newUpstream with the demo bots (ada, bob, cy) available: startBots
// runs them.
func newBotUpstream(t *testing.T) (*demo.Server, string) {
	t.Helper()
	d := demo.New(demo.Config{Bots: true, BotPace: botPace})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { _ = d.Close(); srv.Close() })
	return d, "ws" + strings.TrimPrefix(srv.URL, "http") + demo.Path
}

// startBots runs d's bots in a goroutine until stop is called (at the latest when the test
// ends); stop waits for Run to return.
func startBots(t *testing.T, d *demo.Server) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the demo bots: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// tab is the browser tab a test drives.
type tab struct {
	t     *testing.T
	ctx   context.Context
	close func() // closes the tab (openTab's tabs only)

	mu         sync.Mutex
	exceptions []string // uncaught exceptions of the page
}

// newTab starts a headless Chromium with a fresh profile and opens a tab. The browser is
// closed, and every goroutine of chromedp ended, when the test ends.
func newTab(t *testing.T) *tab {
	t.Helper()
	requireChromium(t)
	profile := t.TempDir() // removed after the browser stopped (cleanups run last-in first-out)
	bound, cancelBound := context.WithTimeout(context.Background(), browserBound)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1200, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bound, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &tab{t: t, ctx: ctx}
	var consoleDone <-chan struct{}
	t.Cleanup(func() {
		closing, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closing); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
		cancel()
		cancelTab() // waits until the browser process is gone
		cancelAlloc()
		cancelBound()
		if consoleDone != nil {
			<-consoleDone
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	consoleDone = b.watchConsole()
	return b
}

// openTab opens another tab (in a window of its own, so that it is never a hidden tab) in b's
// browser. It closes with close, or when the test ends.
func (b *tab) openTab() *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	nt := &tab{t: b.t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.t.Fatalf("open a tab: %v", err)
	}
	done := nt.watchConsole()
	nt.close = sync.OnceFunc(func() {
		closing, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		if err := chromedp.Cancel(closing); err != nil {
			b.t.Logf("closing a tab: %v", err)
		}
		cancel()
		<-done
	})
	b.t.Cleanup(nt.close)
	return nt
}

// watchConsole logs the page's console and keeps its uncaught exceptions, until the tab
// closes; the channel closes then.
func (b *tab) watchConsole() <-chan struct{} {
	done := make(chan struct{})
	console := chromedp.Console(b.ctx)
	go func() { // ends when ctx does
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() {
				b.mu.Lock()
				b.exceptions = append(b.exceptions, m.Text)
				b.mu.Unlock()
			}
			b.t.Logf("page console: %s", m)
		}
	}()
	return done
}

// noExceptions fails the test for every uncaught exception the page had.
func (b *tab) noExceptions() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.exceptions {
		b.t.Errorf("uncaught exception in the page: %s", e)
	}
}

// run runs steps, failing the test with what it was doing and the page's state on an error.
func (b *tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepBound)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatal(what, err)
	}
}

// visible waits until an element matching the CSS selector sel is visible.
func (b *tab) visible(what, sel string) {
	b.t.Helper()
	b.run(what, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// fatal fails the test, showing the banner and the messages as the page has them.
func (b *tab) fatal(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		banner: document.getElementById('banner')?.innerText,
		typing: document.querySelector('[data-testid=typing]')?.textContent,
		messages: [...document.querySelectorAll('[data-testid=message]')].map((li) => ({...li.dataset, text: li.innerText})),
		calls: [...document.querySelectorAll('[data-testid=call-notice]')].map((el) => ({...el.dataset})),
		errors: [...document.querySelectorAll('[data-testid=error]')].map((el) => el.innerText),
	}, null, 1)`))
	b.t.Fatalf("%s: %v\nthe page: %s", what, err, state)
}

// waitJS waits until fn(args...), a JavaScript function of the DOM, answers a truthy value
// and returns that value. It checks again on every change of the DOM: no polling, and no
// eval in the page (the page's Content-Security-Policy forbids it; the DevTools protocol
// may evaluate anyway).
func waitJS[T any](b *tab, what, fn string, args ...any) T {
	b.t.Helper()
	if args == nil {
		args = []any{} // spread as no argument, not as null
	}
	encoded, err := json.Marshal(args)
	if err != nil {
		b.t.Fatal(err)
	}
	expr := `new Promise((resolve) => {
		const test = () => (` + fn + `)(...` + string(encoded) + `);
		const first = test();
		if (first) return resolve(first);
		const watch = new MutationObserver(() => {
			const v = test();
			if (v) { watch.disconnect(); resolve(v); }
		});
		watch.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
	})`
	ctx, cancel := context.WithTimeout(b.ctx, stepBound)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatal(what, err)
	}
	return v
}

// ownMessageJS answers the client_message_id of the message of ours whose content is text.
const ownMessageJS = `(text) => {
	for (const li of document.querySelectorAll('[data-testid=message][data-client-message-id]')) {
		if (li.dataset.sender !== 'ada' && li.querySelector('.message-content')?.textContent === text) {
			return li.dataset.clientMessageId;
		}
	}
	return '';
}`

// enter presses Enter as a keyboard does: a keyDown that carries the text "\r" (the browser
// derives the keypress from it, which the page's preventDefault on keydown cancels), then a
// keyUp. SendKeys(sel, kb.Enter) would send a char event of its own that no preventDefault
// cancels, leaving a stray newline in the composer.
var enter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	key := input.DispatchKeyEventParams{Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
	down, up := key, key
	down.Type, down.Text, down.UnmodifiedText = input.DispatchKeyEventTypeKeyDown, "\r", "\r"
	up.Type = input.DispatchKeyEventTypeKeyUp
	for _, k := range []input.DispatchKeyEventParams{down, up} {
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, k); err != nil {
			return err
		}
	}
	return nil
})

// send types text in the composer, presses Enter, and returns the client_message_id the page
// gave the message once it is in the list. The composer is empty again.
func (b *tab) send(text string) string {
	b.t.Helper()
	composer := chromedp.CSS(`[data-testid=composer]`)
	b.run("type "+text, chromedp.SendKeys(composer, text), enter) // SendKeys focuses the composer
	id := waitJS[string](b, "the message "+text+" in the list", ownMessageJS, text)
	ctx, cancel := context.WithTimeout(b.ctx, stepBound)
	defer cancel()
	if left, err := chromedp.Run(ctx, chromedp.Value(composer)); err != nil || left != "" {
		b.fatal("the composer after sending", fmt.Errorf("it holds %q (%v), want it empty", left, err))
	}
	return id
}

func messageSel(clientID, status string) string {
	return `[data-testid=message][data-client-message-id="` + clientID + `"][data-status=` + status + `]`
}

// colorScheme has the page see prefers-color-scheme as scheme ("light" or "dark").
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// connectionIs waits until the banner shows the upstream state word: its data-state and its
// text both say state, read in one go (the state may move on at any time: while the upstream
// refuses, reconnecting and connecting alternate every few milliseconds).
func (b *tab) connectionIs(state string) {
	b.t.Helper()
	waitJS[bool](b, "the banner says "+state, `(state) => {
		const el = document.querySelector('[data-testid=connection-state]');
		return !!el && el.dataset.state === state && el.textContent === state && el.checkVisibility();
	}`, state)
}

func TestBrowserChat(t *testing.T) {
	requireChromium(t)
	up, upURL := newBotUpstream(t)
	br := startBridge(t, nil, fastArgs(upURL)...)
	page := newTab(t) // closed before the bridge stops
	var sent []string

	// 1. The page opens and the banner says connected.
	page.run("open the page", chromedp.EmulateViewport(1200, 800), chromedp.Navigate(br.url+"/"))
	page.connectionIs("connected")

	// 2. A message typed in the composer is delivered, once.
	id := page.send("hello from the browser")
	sent = append(sent, id)
	page.visible("hello delivered", messageSel(id, "delivered")+`[data-message-id]`)
	page.accessible("after a send")

	// 3. With the bots running, ada types and answers.
	stopBots := startBots(t, up)
	page.visible("ada online", `[data-testid=person][data-user-id=ada][data-status=online]`) // she listens
	page.run("watch the typing line", chromedp.Evaluate[chromedp.Void](`window.adaTyping = new Promise((resolve) => {
		const line = document.querySelector('[data-testid=typing]');
		const watch = new MutationObserver(() => {
			if (line.textContent.includes('ada is typing')) { watch.disconnect(); resolve(line.textContent); }
		});
		watch.observe(line, {subtree: true, childList: true, characterData: true});
	})`))
	id = page.send("hi ada")
	sent = append(sent, id)
	page.run("ada is typing", chromedp.Evaluate[chromedp.Void](`window.adaTyping`, chromedp.EvalAwaitPromise))
	reply := waitJS[string](page, "ada's reply", `(quote) => [...document.querySelectorAll('[data-testid=message][data-sender=ada]')]
		.map((li) => li.querySelector('.message-content')?.textContent ?? '').find((text) => text.includes(quote)) ?? ''`, "hi ada")
	t.Logf("ada answered %q", reply)
	stopBots()

	// 4. The chat server drops us and refuses us for a while: the banner says so, a message
	// sent meanwhile waits in the outbox and is delivered once after the reconnect.
	up.SetReject(http.StatusServiceUnavailable, 0)
	up.DropAll()
	page.connectionIs("reconnecting")
	id = page.send("sent while reconnecting")
	sent = append(sent, id)
	page.visible("the message queued", messageSel(id, "queued"))
	page.accessible("during an outage")
	up.SetReject(0, 0)
	page.connectionIs("connected")
	page.visible("the queued message delivered", messageSel(id, "delivered"))

	// 5. A call comes in; Accept in its notice reaches the chat server.
	const callID = "browser-call-1"
	if err := up.Broadcast("call.incoming", map[string]any{
		"call_id": callID, "conversation_id": "general", "caller_id": "cy", "media": "audio",
	}); err != nil {
		t.Fatal(err)
	}
	notice := `[data-testid=call-notice][data-call-id="` + callID + `"]`
	page.visible("the incoming call", notice+`[data-state=incoming] [data-testid=call-accept]`)
	page.accessible("an incoming call")
	page.run("accept the call", chromedp.Click(chromedp.CSS(notice+`[data-state=incoming] [data-testid=call-accept]`)))
	ctx, cancel := context.WithTimeout(t.Context(), stepBound)
	defer cancel()
	if _, err := up.WaitReceived(ctx, func(f demo.Frame) bool {
		var p struct {
			CallID string `json:"call_id"`
		}
		return f.Type == "call.accept" && json.Unmarshal(f.Payload, &p) == nil && p.CallID == callID
	}); err != nil {
		t.Fatalf("the chat server got no call.accept for %s: %v", callID, err)
	}
	page.visible("the call accepted", notice+`[data-state=accepted] [data-testid=call-end]`)
	page.run("prefer a dark scheme", colorScheme("dark"))
	page.accessible("an accepted call, dark scheme")
	page.run("back to the light scheme", colorScheme("light"))

	// The picture for the README, with the bots back online.
	startBots(t, up)
	page.visible("ada online again", `[data-testid=person][data-user-id=ada][data-status=online]`)
	saveScreenshot(t, page)

	// Every message reached the chat server once, and it keeps each once.
	frames := map[string]int{}
	for _, id := range chatMessages(up) {
		frames[id]++
	}
	kept := map[string]int{}
	for _, m := range up.Messages("general") {
		kept[m.ClientMessageID]++
	}
	for _, id := range sent {
		if frames[id] != 1 || kept[id] != 1 {
			t.Errorf("message %s: the chat server received %d frames and keeps %d messages, want 1 and 1", id, frames[id], kept[id])
		}
	}
	page.noExceptions()
}

// saveScreenshot saves a PNG of the page in the test's temporary directory, and also at
// $CHATBRIDGE_SCREENSHOT when that is set (the README's picture).
func saveScreenshot(t *testing.T, page *tab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(page.ctx, stepBound)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %v (%d bytes)", err, len(png))
	}
	paths := []string{filepath.Join(t.TempDir(), "chatbridge.png")}
	if p := os.Getenv("CHATBRIDGE_SCREENSHOT"); p != "" {
		paths = append(paths, p)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}
