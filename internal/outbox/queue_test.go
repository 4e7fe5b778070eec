package outbox

import (
	"fmt"
	"slices"
	"testing"
)

func ids(q *queue) []string {
	var out []string
	for e := q.head; e != nil; e = e.next {
		out = append(out, e.msg.ClientMessageID)
	}
	return out
}

func TestQueue(t *testing.T) {
	tests := []struct {
		name   string
		remove []string
		want   []string
	}{
		{"none", nil, []string{"a", "b", "c"}},
		{"head", []string{"a"}, []string{"b", "c"}},
		{"middle", []string{"b"}, []string{"a", "c"}},
		{"tail", []string{"c"}, []string{"a", "b"}},
		{"all", []string{"b", "a", "c"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue()
			for _, id := range []string{"a", "b", "c"} {
				q.push(&entry{msg: Message{ClientMessageID: id}})
			}
			for _, id := range tt.remove {
				e := q.get(id)
				q.remove(e)
				if !e.removed || q.get(id) != nil {
					t.Fatalf("%s still held after remove", id)
				}
			}
			if got := ids(&q); !slices.Equal(got, tt.want) || q.len() != len(tt.want) {
				t.Errorf("queue %v (len %d), want %v", got, q.len(), tt.want)
			}
			if len(tt.want) > 0 && (q.tail.msg.ClientMessageID != tt.want[len(tt.want)-1] || q.tail.next != nil) {
				t.Errorf("tail %v, want %s", q.tail.msg.ClientMessageID, tt.want[len(tt.want)-1])
			}
			q.push(&entry{msg: Message{ClientMessageID: "d"}})
			if got := ids(&q); got[len(got)-1] != "d" {
				t.Errorf("push after removals: %v", got)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	tests := []struct {
		max, adds int
	}{
		{1, 1}, {1, 5}, {3, 2}, {3, 1000}, {100, 1000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max %d adds %d", tt.max, tt.adds), func(t *testing.T) {
			m := newMemory(tt.max)
			for i := range tt.adds {
				m.add(Update{Message: Message{ClientMessageID: fmt.Sprint(i), Content: "dropped"}, Status: StatusDelivered})
			}
			if want := min(tt.max, tt.adds); m.len() != want {
				t.Errorf("len %d, want %d", m.len(), want)
			}
			for i := range tt.adds {
				u, ok := m.get(fmt.Sprint(i))
				if want := i >= tt.adds-tt.max; ok != want {
					t.Errorf("%d remembered %v, want %v", i, ok, want)
				}
				if ok && (u.Message.Content != "" || u.Status != StatusDelivered) {
					t.Errorf("%d remembered as %+v, want delivered without content", i, u)
				}
			}
			if len(m.order)-m.head != m.len() {
				t.Errorf("order holds %d live ids, want %d", len(m.order)-m.head, m.len())
			}
		})
	}
}
