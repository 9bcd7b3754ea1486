// Command registry-liar is an HTTP reverse proxy in front of an OCI registry
// (distribution) that lies on demand: tag lists cut short or missing their pagination
// link, a stale tag list, 5xx/429 answers, held-back responses. Everything a lie does
// not act on passes through untouched (net/http/httputil.ReverseProxy, bodies streamed).
// It logs every response a lie acted on, so a lie is confirmed by what was actually
// served, never assumed. Lies are set and cleared on a small JSON admin API (admin.go).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

type liar struct {
	upstream *url.URL
	client   *http.Client // the liar's own requests: snapshots, whole listings
	lies     *table
	log      servedLog
	boot     string // new at every start: a changed boot means the lies and the log were lost
	requests atomic.Int64
}

func logf(format string, args ...any) { log.Printf(format, args...) }

func main() {
	listen := flag.String("listen", "127.0.0.1:5001", "address for registry traffic")
	admin := flag.String("admin", "127.0.0.1:8475", "address of the admin API")
	upstream := flag.String("upstream", "", "the registry, e.g. http://registry:5000")
	flag.Parse()
	up, err := url.Parse(*upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		log.Fatalf("-upstream must be a URL like http://registry:5000, not %q", *upstream)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	l := &liar{upstream: up, client: &http.Client{Timeout: 30 * time.Second}, lies: newTable(),
		boot: hex.EncodeToString(b)}
	pl, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot listen for registry traffic: %v", err)
	}
	al, err := net.Listen("tcp", *admin)
	if err != nil {
		log.Fatalf("cannot listen for the admin API: %v", err)
	}
	// One JSON line on stdout once both listeners are bound (their real ports when given :0).
	ready, _ := json.Marshal(map[string]string{"listen": pl.Addr().String(), "admin": al.Addr().String(),
		"boot": l.boot, "upstream": up.String()})
	fmt.Println(string(ready))
	log.Printf("registry-liar %s: registry traffic on %s, admin API on %s, upstream %s", l.boot, pl.Addr(),
		al.Addr(), up)
	servers := []*http.Server{
		{Handler: l.proxyHandler(), ReadHeaderTimeout: 30 * time.Second},
		{Handler: l.adminHandler(), ReadHeaderTimeout: 10 * time.Second},
	}
	ended := make(chan error, 2)
	go func() { ended <- servers[0].Serve(pl) }()
	go func() { ended <- servers[1].Serve(al) }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-ended:
		log.Fatalf("a server ended: %v", err)
	}
	down, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(down)
	}
}
