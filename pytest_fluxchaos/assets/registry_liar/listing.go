package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

// tagsBody is the body of GET /v2/<name>/tags/list.
type tagsBody struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

var nextRE = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// page serves one request's page of a listing the way distribution v3 does: tags after
// `last`, at most `n` of them, and a Link to the next page whenever the page is full
// (distribution adds it even when nothing follows; the next page is then empty).
func page(all []string, path string, q url.Values) (tags []string, link string, err error) {
	start := 0
	if last := q.Get("last"); last != "" {
		start = len(all)
		for i, t := range all {
			if t == last {
				start = i + 1
				break
			}
			if t > last {
				start = i
				break
			}
		}
	}
	end := len(all)
	limit := -1
	if s := q.Get("n"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			return nil, "", fmt.Errorf("n must be a number, 0 or more, not %q", s)
		}
		if start+limit < end {
			end = start + limit
		}
	}
	tags = append([]string{}, all[start:end]...)
	if limit > 0 && len(tags) == limit {
		v := url.Values{}
		v.Set("n", strconv.Itoa(limit))
		v.Set("last", tags[len(tags)-1])
		link = fmt.Sprintf("<%s?%s>; rel=\"next\"", path, v.Encode())
	}
	return tags, link, nil
}

// nameUnknown is distribution's body for a repository it does not know.
func nameUnknown(repo string) []byte {
	b, _ := json.Marshal(map[string]any{"errors": []map[string]any{{
		"code": "NAME_UNKNOWN", "message": "repository name not known to registry",
		"detail": map[string]string{"name": repo}}}})
	return b
}

// fetchAll reads a repository's whole tag list from the upstream, following Link pages.
func (l *liar) fetchAll(repo string) (listing, error) {
	var out listing
	next := "/v2/" + repo + "/tags/list"
	for pages := 0; next != ""; pages++ {
		if pages == 1000 {
			return out, fmt.Errorf("more than 1000 pages listing %s", repo)
		}
		var body tagsBody
		status, link, err := l.getJSON(next, &body)
		if err != nil {
			return out, err
		}
		if status == http.StatusNotFound && pages == 0 {
			return listing{Known: false}, nil
		}
		if status != http.StatusOK {
			return out, fmt.Errorf("GET %s: HTTP %d", next, status)
		}
		out.Known = true
		out.Tags = append(out.Tags, body.Tags...)
		next = link
	}
	return out, nil
}

// catalog lists the upstream's repositories (GET /v2/_catalog, following Link pages).
func (l *liar) catalog() ([]string, error) {
	var repos []string
	next := "/v2/_catalog"
	for pages := 0; next != ""; pages++ {
		if pages == 1000 {
			return nil, fmt.Errorf("more than 1000 catalog pages")
		}
		var body struct {
			Repositories []string `json:"repositories"`
		}
		status, link, err := l.getJSON(next, &body)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: HTTP %d (a stale lie on a pattern needs the registry's catalog)", next, status)
		}
		repos = append(repos, body.Repositories...)
		next = link
	}
	return repos, nil
}

// getJSON GETs a path (or a Link target) from the upstream; returns the status and the
// next page's path from its Link header.
func (l *liar) getJSON(ref string, into any) (int, string, error) {
	u, err := l.upstream.Parse(ref)
	if err != nil {
		return 0, "", err
	}
	resp, err := l.client.Get(u.String())
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, into); err != nil {
			return 0, "", fmt.Errorf("GET %s: %v", ref, err)
		}
	}
	link := ""
	if m := nextRE.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
		link = m[1]
	}
	return resp.StatusCode, link, nil
}

// snapshot reads the listing of every repository a stale lie covers, now.
func (l *liar) snapshot(pattern string) (map[string]listing, error) {
	repos := []string{pattern}
	if pattern == "*" || len(pattern) > 2 && pattern[len(pattern)-2:] == "/*" {
		all, err := l.catalog()
		if err != nil {
			return nil, err
		}
		repos = repos[:0]
		for _, r := range all {
			if matches(pattern, r) {
				repos = append(repos, r)
			}
		}
	}
	out := map[string]listing{}
	for _, r := range repos {
		got, err := l.fetchAll(r)
		if err != nil {
			return nil, err
		}
		out[r] = got
	}
	return out, nil
}
