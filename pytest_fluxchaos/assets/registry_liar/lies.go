package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// The four kinds of lie. A lie's stage says where in a request it acts: lies of one
// stage must not overlap (two listing rewrites of one repository would each claim the
// response), lies of different stages may (a listing may be both stale and slow).
var stages = map[string]string{
	"truncate": "listing", // GET /v2/<name>/tags/list cut to the first N, or its Link dropped
	"stale":    "listing", // GET /v2/<name>/tags/list served from a snapshot taken when set
	"error":    "error",   // any request for the repository answered with 5xx or 429
	"slow":     "slow",    // any response for the repository held back before its headers
}

// Params of a lie; which ones apply depends on its kind (see validate).
type Params struct {
	Keep        *int `json:"keep,omitempty"`
	DropLink    bool `json:"drop_link,omitempty"`
	Status      int  `json:"status,omitempty"`
	RetryAfterS *int `json:"retry_after_s,omitempty"`
	DelayMS     int  `json:"delay_ms,omitempty"`
}

// A listing as the registry gave it: Known is false for a repository it does not know.
type listing struct {
	Known bool
	Tags  []string
}

// Lie is one active lie. Image is an exact repository name, "<prefix>/*" (every
// repository under the prefix) or "*" (every repository).
type Lie struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Image     string         `json:"image"`
	Params    Params         `json:"params"`
	SetAt     time.Time      `json:"set_at"`
	LogCursor int64          `json:"log_cursor"`         // the log's last seq when it was set
	Snapshot  map[string]int `json:"snapshot,omitempty"` // stale: tags per repository, -1 unknown

	seq      int
	acting   int                // requests this lie is acting on now (guarded by the table's mutex)
	listings map[string]listing // stale: the snapshot itself
	cancel   chan struct{}      // closed when the lie is cleared: releases held responses
	inflight sync.WaitGroup     // requests this lie is acting on
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
)

func validate(l *Lie) error {
	if !idRE.MatchString(l.ID) {
		return fmt.Errorf("a lie id is 1-128 of [A-Za-z0-9._-], not %q", l.ID)
	}
	if _, ok := stages[l.Kind]; !ok {
		return fmt.Errorf("unknown lie kind %q: choose truncate, stale, error or slow", l.Kind)
	}
	name := strings.TrimSuffix(l.Image, "/*")
	if l.Image != "*" && !nameRE.MatchString(name) {
		return fmt.Errorf("image must be a repository name, <prefix>/* or *, not %q", l.Image)
	}
	p := l.Params
	switch l.Kind {
	case "truncate":
		if (p.Keep == nil) == !p.DropLink {
			return fmt.Errorf("truncate takes exactly one of keep or drop_link")
		}
		if p.Keep != nil && *p.Keep < 0 {
			return fmt.Errorf("keep must be 0 or more, not %d", *p.Keep)
		}
		if p.Status != 0 || p.RetryAfterS != nil || p.DelayMS != 0 {
			return fmt.Errorf("truncate takes only keep or drop_link")
		}
	case "stale":
		if p != (Params{}) {
			return fmt.Errorf("stale takes no params")
		}
	case "error":
		if p.Status == 0 {
			l.Params.Status = 503
		} else if p.Status != 429 && (p.Status < 500 || p.Status > 599) {
			return fmt.Errorf("error status must be 429 or 5xx, not %d", p.Status)
		}
		if p.RetryAfterS != nil && *p.RetryAfterS < 0 {
			return fmt.Errorf("retry_after_s must be 0 or more")
		}
		if p.Keep != nil || p.DropLink || p.DelayMS != 0 {
			return fmt.Errorf("error takes only status and retry_after_s")
		}
	case "slow":
		if p.DelayMS <= 0 || p.DelayMS > 600000 {
			return fmt.Errorf("slow needs delay_ms between 1 and 600000, not %d", p.DelayMS)
		}
		if p.Keep != nil || p.DropLink || p.Status != 0 || p.RetryAfterS != nil {
			return fmt.Errorf("slow takes only delay_ms")
		}
	}
	return nil
}

// matches: does a lie's image pattern cover repository repo?
func matches(pattern, repo string) bool {
	if pattern == "*" || pattern == repo {
		return true
	}
	return strings.HasSuffix(pattern, "/*") && repo != "" && strings.HasPrefix(repo, strings.TrimSuffix(pattern, "*"))
}

// overlap: could one repository be covered by both patterns?
func overlap(a, b string) bool {
	if matches(a, b) || matches(b, a) {
		return true
	}
	pa, pb := strings.TrimSuffix(a, "*"), strings.TrimSuffix(b, "*")
	return strings.HasSuffix(a, "/*") && strings.HasSuffix(b, "/*") &&
		(strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa))
}

// table holds the active lies.
type table struct {
	mu   sync.Mutex
	lies map[string]*Lie
	seq  int
}

func newTable() *table { return &table{lies: map[string]*Lie{}} }

// add takes a validated lie unless its id is taken or a lie of the same stage overlaps.
func (t *table) add(l *Lie) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.lies[l.ID]; ok {
		return fmt.Errorf("lie %s is already set; clear it first", l.ID)
	}
	for _, o := range t.lies {
		if stages[o.Kind] == stages[l.Kind] && overlap(o.Image, l.Image) {
			return fmt.Errorf("lie %s (%s on %s) already acts at the %s stage for %s", o.ID, o.Kind, o.Image,
				stages[l.Kind], l.Image)
		}
	}
	t.seq++
	l.seq = t.seq
	l.cancel = make(chan struct{})
	t.lies[l.ID] = l
	return nil
}

// remove takes a lie out of the table; requests already acting on it finish.
func (t *table) remove(id string) *Lie {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.lies[id]
	if l != nil {
		delete(t.lies, id)
		close(l.cancel)
	}
	return l
}

// lieView is a lie as the admin API shows it, with the requests it is acting on now.
type lieView struct {
	*Lie
	Acting int `json:"acting"`
}

// list returns the active lies in the order they were set.
func (t *table) list() []lieView {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]lieView, 0, len(t.lies))
	for _, l := range t.lies {
		out = append(out, lieView{l, l.acting})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// acquire returns the lies that act on a request for repo (applies decides per lie),
// each marked in flight until the caller releases it.
func (t *table) acquire(repo string, applies func(*Lie) bool) []*Lie {
	if repo == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Lie
	for _, l := range t.lies {
		if matches(l.Image, repo) && applies(l) {
			l.inflight.Add(1)
			l.acting++
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// release marks the end of a request the lies were acting on.
func (t *table) release(lies []*Lie) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range lies {
		l.acting--
		l.inflight.Done()
	}
}

// routes of the distribution API that name a repository; anything else (/v2/,
// /v2/_catalog) names none and is never lied about.
var routes = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^/v2/(.+)/tags/list$`), "tags"},
	{regexp.MustCompile(`^/v2/(.+)/manifests/[^/]+$`), "manifests"},
	{regexp.MustCompile(`^/v2/(.+)/blobs/uploads(?:/.*)?$`), "uploads"},
	{regexp.MustCompile(`^/v2/(.+)/blobs/[^/]+$`), "blobs"},
	{regexp.MustCompile(`^/v2/(.+)/referrers/[^/]+$`), "referrers"},
}

// route returns the repository a request path names and the kind of endpoint.
func route(path string) (repo, kind string) {
	for _, r := range routes {
		if m := r.re.FindStringSubmatch(path); m != nil {
			return m[1], r.kind
		}
	}
	return "", ""
}
