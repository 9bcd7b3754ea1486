package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"time"
)

const maxBody = 64 << 20 // a tag list larger than this is passed through, not rewritten

type stateKey struct{}

// reqState is what the lies acting on one proxied request need in ModifyResponse.
type reqState struct {
	in      *http.Request
	repo    string
	listing *Lie // truncate or stale
	slow    *Lie
}

func (l *liar) proxyHandler() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(l.upstream)
			pr.Out.Host = pr.In.Host // links and redirects the registry builds keep pointing at us
			if st, _ := pr.In.Context().Value(stateKey{}).(*reqState); st != nil && st.listing != nil {
				pr.Out.Header.Del("Accept-Encoding") // an identity body, since it may be rewritten
			}
		},
		ModifyResponse: l.modify,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client left
			}
			log.Printf("registry unreachable for %s %s: %v", r.Method, r.URL.RequestURI(), err)
			// As a TCP proxy: the client's connection ends without an answer, so a registry
			// outage looks the same to the controllers with the liar in the chain as without.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, herr := hj.Hijack(); herr == nil {
					_ = conn.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.requests.Add(1)
		repo, kind := route(r.URL.Path)
		listingReq := kind == "tags" && r.Method == http.MethodGet
		acting := l.lies.acquire(repo, func(lie *Lie) bool {
			return stages[lie.Kind] != "listing" || listingReq
		})
		defer l.lies.release(acting)
		st := &reqState{in: r, repo: repo}
		for _, lie := range acting {
			switch stages[lie.Kind] {
			case "error":
				l.serveError(w, r, lie) // the oldest error lie answers; nothing else acts
				return
			case "listing":
				st.listing = lie
			case "slow":
				st.slow = lie
			}
		}
		if len(acting) > 0 {
			r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		}
		rp.ServeHTTP(w, r)
	})
}

var errorCodes = map[int]string{429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}

// serveError answers in the registry's place, in its error format; the registry is not asked.
func (l *liar) serveError(w http.ResponseWriter, r *http.Request, lie *Lie) {
	status := lie.Params.Status
	code := errorCodes[status]
	if code == "" {
		code = "UNKNOWN"
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{
		"code": code, "message": http.StatusText(status), "detail": map[string]string{"fluxchaos_lie": lie.ID}}}})
	h := w.Header()
	h.Set("Content-Type", "application/json") // as distribution's errcode.ServeJSON
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	detail := map[string]any{"status": status}
	if lie.Params.RetryAfterS != nil {
		h.Set("Retry-After", strconv.Itoa(*lie.Params.RetryAfterS))
		detail["retry_after_s"] = *lie.Params.RetryAfterS
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	l.served(lie, r, status, 0, true, detail)
}

func (l *liar) modify(resp *http.Response) error {
	st, _ := resp.Request.Context().Value(stateKey{}).(*reqState)
	if st == nil {
		return nil
	}
	if st.listing != nil {
		l.rewriteListing(resp, st)
	}
	if st.slow != nil {
		return l.hold(resp, st)
	}
	return nil
}

// hold delays the response's headers by the slow lie's delay; clearing the lie releases it.
func (l *liar) hold(resp *http.Response, st *reqState) error {
	lie := st.slow
	start := time.Now()
	timer := time.NewTimer(time.Duration(lie.Params.DelayMS) * time.Millisecond)
	defer timer.Stop()
	outcome := "served"
	select {
	case <-timer.C:
	case <-lie.cancel:
		outcome = "cleared"
	case <-st.in.Context().Done():
		outcome = "client-gone"
	}
	waited := time.Since(start).Milliseconds()
	l.served(lie, st.in, resp.StatusCode, resp.StatusCode, waited > 0,
		map[string]any{"delay_ms": lie.Params.DelayMS, "waited_ms": waited, "outcome": outcome})
	if outcome == "client-gone" {
		return st.in.Context().Err()
	}
	return nil
}

// rewriteListing serves a truncated or stale tag list in place of the registry's answer.
func (l *liar) rewriteListing(resp *http.Response, st *reqState) {
	lie, r := st.listing, st.in
	upStatus := resp.StatusCode
	pass := func(reason string) { l.served(lie, r, upStatus, upStatus, false, map[string]any{"passed": reason}) }
	if lie.Params.DropLink {
		link := resp.Header.Get("Link")
		if link != "" {
			resp.Header.Del("Link")
		}
		l.served(lie, r, upStatus, upStatus, link != "", map[string]any{"dropped_link": link})
		return
	}
	if upStatus != http.StatusOK && !(lie.Kind == "stale" && upStatus == http.StatusNotFound) {
		pass("the registry answered HTTP " + strconv.Itoa(upStatus))
		return
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		pass("the registry's body is " + enc + "-encoded")
		return
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	resp.Body.Close()
	restore := func(reason string) {
		resp.Body = io.NopCloser(bytes.NewReader(data))
		pass(reason)
	}
	if err != nil || len(data) > maxBody {
		restore("the registry's body could not be read whole")
		return
	}
	var up tagsBody
	if upStatus == http.StatusOK {
		if err := json.Unmarshal(data, &up); err != nil {
			restore("the registry's body is not a tag list")
			return
		}
	}
	upLink := resp.Header.Get("Link") != ""
	q := r.URL.Query()
	var full listing
	switch {
	case lie.Kind == "stale":
		full = lie.listings[st.repo] // a repository the snapshot lacks is unknown
	case q.Get("n") == "" && q.Get("last") == "":
		full = listing{Known: true, Tags: up.Tags}
	default:
		if full, err = l.fetchAll(st.repo); err != nil {
			restore("the whole listing could not be read: " + err.Error())
			return
		}
	}
	detail := map[string]any{"upstream_tags": len(up.Tags), "upstream_link": upLink}
	if lie.Params.Keep != nil && len(full.Tags) > *lie.Params.Keep {
		detail["listing_tags"] = len(full.Tags)
		full.Tags = full.Tags[:*lie.Params.Keep]
	}
	status, body, link := http.StatusNotFound, nameUnknown(st.repo), ""
	var tags []string
	if full.Known {
		var err error
		if tags, link, err = page(full.Tags, r.URL.Path, q); err != nil {
			restore(err.Error())
			return
		}
		status = http.StatusOK
		name := up.Name
		if name == "" {
			name = st.repo
		}
		body, _ = json.Marshal(tagsBody{Name: name, Tags: tags})
		body = append(body, '\n')
		detail["served_tags"] = len(tags)
	}
	detail["served_link"] = link != ""
	lied := status != upStatus || (link != "") != upLink || (full.Known && !slices.Equal(tags, up.Tags))
	resp.StatusCode, resp.Status = status, strconv.Itoa(status)+" "+http.StatusText(status)
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Del("Link")
	if link != "" {
		resp.Header.Set("Link", link)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding = nil
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	l.served(lie, r, status, upStatus, lied, detail)
}

func (l *liar) served(lie *Lie, r *http.Request, status, upstream int, lied bool, detail map[string]any) {
	e := l.log.add(lie, r, status, upstream, lied, detail)
	log.Printf("lie %s (%s) %s %s -> %d lied=%t client=%s ua=%q", lie.ID, lie.Kind, r.Method,
		e.Path, status, lied, e.Client, e.UserAgent)
}
