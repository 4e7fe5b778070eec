package chat

import (
	"slices"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// TopicInfo is one topic browsers may read, with the event names it carries.
type TopicInfo = dialect.TopicInfo

// Topics lists every topic: the built-in ones in their documented order, then the dialect's own,
// sorted, each with the event names published on it. It is safe for concurrent use.
func (s *Service) Topics() []TopicInfo {
	byName := map[string][]string{
		dialect.TopicMessages:   {EventMessageStatus},
		dialect.TopicConnection: {EventConnectionState},
		dialect.TopicRaw:        {dialect.EventRaw},
	}
	var own []string
	for _, t := range s.dialect.Topics() {
		if !dialect.IsBuiltinTopic(t.Name) && !slices.Contains(own, t.Name) {
			own = append(own, t.Name)
		}
		byName[t.Name] = append(byName[t.Name], t.Types...)
	}
	slices.Sort(own)
	out := make([]TopicInfo, 0, len(dialect.BuiltinTopics)+len(own))
	for _, name := range append(slices.Clone(dialect.BuiltinTopics), own...) {
		types := slices.Clone(byName[name])
		slices.Sort(types)
		out = append(out, TopicInfo{Name: name, Types: slices.Compact(types)})
	}
	return out
}

// ConversationScoped reports whether events of topic carry a conversation id that the
// conversation_id filter of the SSE endpoints applies to: every topic but presence, errors,
// connection and raw.
func ConversationScoped(topic string) bool {
	switch topic {
	case dialect.TopicPresence, dialect.TopicErrors, dialect.TopicConnection, dialect.TopicRaw:
		return false
	}
	return true
}
