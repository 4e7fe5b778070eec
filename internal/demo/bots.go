package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Run runs the demo bots, when Config.Bots is set, until ctx is done or the
// server is closed, and returns nil once they have stopped. Without
// Config.Bots it only waits. While the bots run, ada and cy are online and bob
// comes and goes; when they stop, all three go offline. Run returns ErrClosed
// after Close and an error when another Run or Start is active. Close waits
// for Run to return.
func (s *Server) Run(ctx context.Context) error {
	inbox, err := s.startBots()
	if err != nil {
		return err
	}
	s.runBots(ctx, inbox)
	return nil
}

// Start is Run in a goroutine of the server's own: when Start returns, the
// bots are online and ada listens; they stop when ctx is done or the server
// is closed (Close waits for them). Start returns Run's errors. It is safe
// for concurrent use.
func (s *Server) Start(ctx context.Context) error {
	inbox, err := s.startBots()
	if err != nil {
		return err
	}
	go s.runBots(ctx, inbox)
	return nil
}

// startBots marks the bots running, counts runBots in s.wg, and with
// Config.Bots puts them online, posts ada's welcome to an empty General and
// returns ada's inbox.
func (s *Server) startBots() (chan Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case s.running:
		return nil, errors.New("run demo bots: already running")
	}
	s.running = true
	s.wg.Add(1) // runBots
	if !s.cfg.Bots {
		return nil, nil
	}
	inbox := make(chan Message, 16)
	s.adaInbox = inbox
	for _, b := range botNames {
		s.setStatusLocked(b, StatusOnline)
	}
	if len(s.convs[General].messages) == 0 {
		s.botPostLocked(BotAda, General, "Welcome to General! I'm ada, a demo bot: say something and I'll answer. "+
			"bob comes and goes, and cy calls now and then.")
	}
	return inbox, nil
}

// runBots runs the bot goroutines until ctx is done or Close, waits for them
// and takes the bots offline.
func (s *Server) runBots(ctx context.Context, inbox chan Message) {
	defer s.wg.Done()
	botCtx, cancel := context.WithCancel(ctx)
	var bots sync.WaitGroup
	if s.cfg.Bots {
		bots.Go(func() { s.ada(botCtx, inbox) })
		bots.Go(func() { s.bob(botCtx) })
		bots.Go(func() { s.cy(botCtx) })
	}
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	cancel()
	bots.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
	s.adaInbox = nil
	if s.cfg.Bots {
		for _, b := range botNames {
			if len(s.byUser[b]) == 0 {
				s.setStatusLocked(b, StatusOffline)
			}
		}
	}
}

// ada answers every message in General not sent by a bot: typing for 1.5
// pace, then a reply quoting it. She returns when ctx is done.
func (s *Server) ada(ctx context.Context, inbox <-chan Message) {
	for n := 0; ; n++ {
		var m Message
		select {
		case <-ctx.Done():
			return
		case m = <-inbox:
		}
		s.botTyping(BotAda, m.ConversationID, true)
		if !s.pause(ctx, 1.5) {
			s.botTyping(BotAda, m.ConversationID, false)
			return
		}
		s.botTyping(BotAda, m.ConversationID, false)
		s.mu.Lock()
		s.botPostLocked(BotAda, m.ConversationID, adaReply(n, m))
		s.mu.Unlock()
	}
}

// adaReply is ada's friendly answer to m, quoting its start.
func adaReply(n int, m Message) string {
	quote := strings.Join(strings.Fields(m.Content), " ")
	if utf8.RuneCountInString(quote) > 60 {
		quote = string([]rune(quote)[:60]) + "…"
	}
	replies := []string{
		"Hi %s! You said “%s”: nice to hear from you.",
		"“%[2]s”, %[1]s? Tell me more!",
		"Thanks %s, I read “%s”. I'm only a demo bot, but I'm listening.",
	}
	return fmt.Sprintf(replies[n%len(replies)], m.SenderID, quote)
}

// bob comes and goes: away, offline, online, ... every ~20 pace, until ctx
// is done.
func (s *Server) bob(ctx context.Context) {
	cycle := []string{StatusAway, StatusOffline, StatusOnline}
	for i := 0; s.pause(ctx, 20); i++ {
		s.mu.Lock()
		s.setStatusLocked(BotBob, cycle[i%len(cycle)])
		s.mu.Unlock()
	}
}

// cy calls the humans of General every ~45 pace (when one is connected),
// alternating audio and video. A call not accepted within ~20 pace ends as
// "missed"; an accepted one ends with "hangup" after ~10 pace, unless
// someone rejects or ends it first. cy returns when ctx is done, after ending
// the call in progress.
func (s *Server) cy(ctx context.Context) {
	media := []string{"audio", "video"}
	for i := 0; s.pause(ctx, 45); i++ {
		s.mu.Lock()
		if !s.humanOnlineLocked(General) {
			s.mu.Unlock()
			continue
		}
		k := s.startCallLocked(BotCy, General, media[i%len(media)])
		s.mu.Unlock()

		reason := "missed"
		if s.await(ctx, k.accepted, k.over, 20) {
			reason = "hangup"
			s.await(ctx, k.over, nil, 10)
		}
		s.mu.Lock()
		if s.calls[k.id] == k {
			s.callActionLocked(BotCy, "call.end", k.id, reason)
		}
		s.mu.Unlock()
	}
}

// await waits up to paces for ch, reporting whether ch closed; it returns
// false early when other closes or ctx is done.
func (s *Server) await(ctx context.Context, ch, other <-chan struct{}, paces float64) bool {
	t := time.NewTimer(s.paced(paces))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-other:
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// pause sleeps about paces bot paces; it reports false when ctx ends first.
func (s *Server) pause(ctx context.Context, paces float64) bool {
	t := time.NewTimer(s.paced(paces))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// paced scales paces by BotPace with +-20% jitter.
func (s *Server) paced(paces float64) time.Duration {
	return time.Duration(paces * (0.8 + 0.4*rand.Float64()) * float64(s.cfg.BotPace))
}

// botTyping relays a bot's typing.indicator like a client's.
func (s *Server) botTyping(bot, convID string, typing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typingLocked(bot, convID, typing)
}

// botPostLocked posts a bot's chat.message through the clients' path.
func (s *Server) botPostLocked(bot, convID, content string) {
	cid := fmt.Sprintf("%s-%d", bot, s.nextMsg+1)
	if _, _, err := s.postLocked(bot, convID, content, cid); err != nil {
		s.log.Warn("demo: bot message not posted", "user", bot, "err", err)
	}
}

// humanOnlineLocked reports whether a member of convID who is not a bot has
// a connection.
func (s *Server) humanOnlineLocked(convID string) bool {
	conv, ok := s.convs[convID]
	if !ok {
		return false
	}
	for member := range conv.members {
		if !isBot(member) && len(s.byUser[member]) > 0 {
			return true
		}
	}
	return false
}
