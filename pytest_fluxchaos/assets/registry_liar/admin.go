package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// adminHandler is the JSON admin API:
//
//	GET    /healthz            {"ok", "boot", "upstream", "requests", "lies", "log_last"}
//	GET    /lies               {"boot", "lies": [...]} in the order set, each with "acting": requests now
//	PUT    /lies/{id}          {"kind", "image", "params"} -> 201 the lie (stale: with its snapshot)
//	DELETE /lies/{id}          -> 200 {"id", "drained"} once the requests it acted on have ended
//	GET    /log?since=N&lie=ID {"boot", "last", "dropped", "entries": [...]} entries after seq N
func (l *liar) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]any{"ok": true, "boot": l.boot, "upstream": l.upstream.String(),
			"requests": l.requests.Load(), "lies": len(l.lies.list()), "log_last": l.log.cursor()})
	})
	mux.HandleFunc("GET /lies", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]any{"boot": l.boot, "lies": l.lies.list()})
	})
	mux.HandleFunc("PUT /lies/{id}", l.setLie)
	mux.HandleFunc("DELETE /lies/{id}", l.clearLie)
	mux.HandleFunc("GET /log", func(w http.ResponseWriter, r *http.Request) {
		since, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if r.URL.Query().Get("since") == "" {
			since, err = 0, nil
		}
		if err != nil || since < 0 {
			fail(w, http.StatusBadRequest, errors.New("since must be a log seq, 0 or more"))
			return
		}
		entries, last, dropped := l.log.since(since, r.URL.Query().Get("lie"))
		reply(w, http.StatusOK, map[string]any{"boot": l.boot, "last": last, "dropped": dropped, "entries": entries})
	})
	return mux
}

func (l *liar) setLie(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Kind   string `json:"kind"`
		Image  string `json:"image"`
		Params Params `json:"params"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, errors.New("a lie is {kind, image, params}: "+err.Error()))
		return
	}
	lie := &Lie{ID: r.PathValue("id"), Kind: req.Kind, Image: req.Image, Params: req.Params}
	if err := validate(lie); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if lie.Kind == "stale" {
		snap, err := l.snapshot(lie.Image)
		if err != nil {
			fail(w, http.StatusBadGateway, errors.New("cannot take the stale snapshot: "+err.Error()))
			return
		}
		lie.listings, lie.Snapshot = snap, map[string]int{}
		for repo, got := range snap {
			lie.Snapshot[repo] = -1
			if got.Known {
				lie.Snapshot[repo] = len(got.Tags)
			}
		}
	}
	lie.SetAt, lie.LogCursor = time.Now().UTC(), l.log.cursor()
	if err := l.lies.add(lie); err != nil {
		fail(w, http.StatusConflict, err)
		return
	}
	params, _ := json.Marshal(lie.Params)
	logf("set lie %s: %s on %s %s", lie.ID, lie.Kind, lie.Image, params)
	reply(w, http.StatusCreated, lie)
}

func (l *liar) clearLie(w http.ResponseWriter, r *http.Request) {
	lie := l.lies.remove(r.PathValue("id"))
	if lie == nil {
		fail(w, http.StatusNotFound, errors.New("no lie "+r.PathValue("id")))
		return
	}
	done := make(chan struct{})
	go func() { lie.inflight.Wait(); close(done) }()
	drained := true
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a request stuck on the registry: do not wait for it
		drained = false
	}
	logf("cleared lie %s (drained=%t)", lie.ID, drained)
	reply(w, http.StatusOK, map[string]any{"id": lie.ID, "drained": drained})
}

func reply(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"cannot encode the reply"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func fail(w http.ResponseWriter, status int, err error) {
	reply(w, status, map[string]any{"error": err.Error(), "status": status})
}
