package main

import (
	"net/url"
	"slices"
	"testing"
)

func TestPageFollowsDistribution(t *testing.T) {
	all := []string{"a", "b", "c", "d"}
	cases := []struct {
		query, want, link string
	}{
		{"", "a b c d", ""},
		{"n=2", "a b", `</v2/x/tags/list?last=b&n=2>; rel="next"`},
		{"n=2&last=b", "c d", `</v2/x/tags/list?last=d&n=2>; rel="next"`}, // full page: a link, as distribution
		{"n=2&last=d", "", ""},
		{"last=bb", "c d", ""},
		{"n=0", "", ""},
		{"n=9", "a b c d", ""},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		tags, link, err := page(all, "/v2/x/tags/list", q)
		if err != nil || joined(tags) != c.want || link != c.link {
			t.Errorf("%q: got %q %q %v, want %q %q", c.query, joined(tags), link, err, c.want, c.link)
		}
	}
	if _, _, err := page(all, "/v2/x/tags/list", url.Values{"n": {"-1"}}); err == nil {
		t.Error("n=-1 accepted")
	}
}

func joined(s []string) string {
	out := ""
	for i, t := range s {
		if i > 0 {
			out += " "
		}
		out += t
	}
	return out
}

func TestPatternsAndRoutes(t *testing.T) {
	if !matches("*", "ns/app") || !matches("ns/*", "ns/app") || matches("ns/*", "nsx/app") || matches("ns/app", "ns/app2") {
		t.Error("matches")
	}
	if !overlap("ns/*", "ns/app") || !overlap("ns/*", "ns/sub/*") || overlap("ns/a", "ns/b") || overlap("a/*", "b/*") {
		t.Error("overlap")
	}
	for path, want := range map[string][2]string{
		"/v2/":                          {"", ""},
		"/v2/_catalog":                  {"", ""},
		"/v2/ns/app/tags/list":          {"ns/app", "tags"},
		"/v2/ns/app/manifests/1.0":      {"ns/app", "manifests"},
		"/v2/ns/app/blobs/sha256:ab":    {"ns/app", "blobs"},
		"/v2/ns/app/blobs/uploads/":     {"ns/app", "uploads"},
		"/v2/ns/app/blobs/uploads/uuid": {"ns/app", "uploads"},
	} {
		repo, kind := route(path)
		if repo != want[0] || kind != want[1] {
			t.Errorf("%s: got %s %s", path, repo, kind)
		}
	}
}

func TestValidate(t *testing.T) {
	keep, neg := 2, -1
	good := []*Lie{
		{ID: "a", Kind: "truncate", Image: "ns/app", Params: Params{Keep: &keep}},
		{ID: "a", Kind: "truncate", Image: "ns/*", Params: Params{DropLink: true}},
		{ID: "a", Kind: "stale", Image: "*"},
		{ID: "a", Kind: "error", Image: "*", Params: Params{Status: 429, RetryAfterS: &keep}},
		{ID: "a", Kind: "slow", Image: "*", Params: Params{DelayMS: 10}},
	}
	for _, l := range good {
		if err := validate(l); err != nil {
			t.Errorf("%s %s: %v", l.Kind, l.Image, err)
		}
	}
	e := Lie{ID: "a", Kind: "error", Image: "*"}
	if validate(&e) != nil || e.Params.Status != 503 {
		t.Error("error defaults to 503")
	}
	bad := []*Lie{
		{ID: "", Kind: "stale", Image: "*"},
		{ID: "a", Kind: "lie", Image: "*"},
		{ID: "a", Kind: "stale", Image: "Ns/App"},
		{ID: "a", Kind: "truncate", Image: "*"},
		{ID: "a", Kind: "truncate", Image: "*", Params: Params{Keep: &keep, DropLink: true}},
		{ID: "a", Kind: "truncate", Image: "*", Params: Params{Keep: &neg}},
		{ID: "a", Kind: "error", Image: "*", Params: Params{Status: 404}},
		{ID: "a", Kind: "slow", Image: "*"},
		{ID: "a", Kind: "stale", Image: "*", Params: Params{DelayMS: 5}},
	}
	for _, l := range bad {
		if validate(l) == nil {
			t.Errorf("accepted %s %s %q", l.Kind, l.Image, l.ID)
		}
	}
	tb := newTable()
	if tb.add(&Lie{ID: "a", Kind: "stale", Image: "ns/*"}) != nil || tb.add(&Lie{ID: "b", Kind: "truncate", Image: "ns/app"}) == nil ||
		tb.add(&Lie{ID: "c", Kind: "slow", Image: "ns/app"}) != nil || tb.add(&Lie{ID: "a", Kind: "error", Image: "x"}) == nil {
		t.Error("table conflicts")
	}
	if ids := []string{tb.list()[0].ID, tb.list()[1].ID}; !slices.Equal(ids, []string{"a", "c"}) {
		t.Errorf("order %v", ids)
	}
}
