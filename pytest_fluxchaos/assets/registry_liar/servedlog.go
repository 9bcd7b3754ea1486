package main

import (
	"net/http"
	"sync"
	"time"
)

// Entry is one response a lie acted on. Lied says whether what the client got differs
// from what the registry would have served (a truncation that cut nothing, or a stale
// listing equal to the current one, is logged with Lied false).
type Entry struct {
	Seq            int64          `json:"seq"`
	Lie            string         `json:"lie"`
	Kind           string         `json:"kind"`
	At             float64        `json:"at"` // Unix seconds, the liar's clock
	Time           string         `json:"time"`
	Client         string         `json:"client"` // the TCP peer (behind Toxiproxy: Toxiproxy)
	UserAgent      string         `json:"user_agent"`
	Method         string         `json:"method"`
	Path           string         `json:"path"` // with its query
	Status         int            `json:"status"`
	UpstreamStatus int            `json:"upstream_status"` // 0: the registry was not asked
	Lied           bool           `json:"lied"`
	Detail         map[string]any `json:"detail,omitempty"`
}

const maxEntries = 100000

// servedLog keeps the last maxEntries entries; seq numbers start at 1 and never repeat.
type servedLog struct {
	mu      sync.Mutex
	entries []Entry
	last    int64
}

func (s *servedLog) add(lie *Lie, r *http.Request, status, upstream int, lied bool, detail map[string]any) Entry {
	now := time.Now()
	e := Entry{Lie: lie.ID, Kind: lie.Kind, At: float64(now.UnixNano()) / 1e9,
		Time: now.UTC().Format(time.RFC3339Nano), Client: r.RemoteAddr, UserAgent: r.UserAgent(),
		Method: r.Method, Path: r.URL.RequestURI(), Status: status, UpstreamStatus: upstream,
		Lied: lied, Detail: detail}
	s.mu.Lock()
	s.last++
	e.Seq = s.last
	s.entries = append(s.entries, e)
	if len(s.entries) > maxEntries {
		s.entries = append([]Entry(nil), s.entries[len(s.entries)-maxEntries:]...)
	}
	s.mu.Unlock()
	return e
}

// since returns the entries after seq (of one lie when lie is not ""), the last seq
// assigned, and how many entries after seq were already dropped.
func (s *servedLog) since(seq int64, lie string) ([]Entry, int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Entry{}
	var dropped int64
	if len(s.entries) > 0 && s.entries[0].Seq > seq+1 {
		dropped = s.entries[0].Seq - seq - 1
	}
	for _, e := range s.entries {
		if e.Seq > seq && (lie == "" || e.Lie == lie) {
			out = append(out, e)
		}
	}
	return out, s.last, dropped
}

func (s *servedLog) cursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}
