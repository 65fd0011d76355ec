// demo-server: the demo workload's HTTP server (frontend and backend alike) on the real node.
//
//	GET /         the application: a backend answers itself; a frontend (-upstream NAME) asks the
//	              backend through its Service and answers 200 only when the backend did
//	GET /healthz  the process's own readiness (no upstream call): the pod's readiness probe
//	GET /metrics  Prometheus text: requests, latencies, accepted connections and the pod's own
//	              TCP counters (/proc/net/snmp, /proc/net/netstat), so a SYN flood shows even
//	              when no handshake completes
//
// The upstream's address comes from the variables Kubernetes injects for each Service of the
// namespace (NAME_SERVICE_HOST, NAME_SERVICE_PORT): no DNS is needed. Stdlib only, built static.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Paths the metrics name; anything else counts as "other", so a scan cannot grow the series.
var knownPaths = map[string]bool{"/": true, "/healthz": true, "/metrics": true}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

type metrics struct {
	mu          sync.Mutex
	requests    map[[2]string]uint64 // (code, path)
	durations   map[string]*histogram
	upstream    map[string]uint64 // result of the calls to the upstream: code or "error"
	connections atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, durations: map[string]*histogram{}, upstream: map[string]uint64{}}
}

func (m *metrics) observe(path string, code int, seconds float64) {
	if !knownPaths[path] {
		path = "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{strconv.Itoa(code), path}]++
	h := m.durations[path]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets))}
		m.durations[path] = h
	}
	for i, le := range buckets {
		if seconds <= le {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += seconds
}

func (m *metrics) upstreamResult(result string) {
	m.mu.Lock()
	m.upstream[result]++
	m.mu.Unlock()
}

func (m *metrics) write(w io.Writer, role string, ready bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	header(w, "krkn_demo_up", "gauge", "The demo server runs (role label: frontend or backend).")
	fmt.Fprintf(w, "krkn_demo_up{role=%q} 1\n", role)
	header(w, "krkn_demo_ready", "gauge", "The server answers its readiness probe with 200.")
	fmt.Fprintf(w, "krkn_demo_ready %d\n", b2i(ready))
	header(w, "krkn_demo_http_requests_total", "counter", "HTTP requests served, by code and path.")
	byPath := func(a, b [2]string) int { return strings.Compare(a[1]+" "+a[0], b[1]+" "+b[0]) }
	for _, k := range slices.SortedFunc(maps.Keys(m.requests), byPath) {
		fmt.Fprintf(w, "krkn_demo_http_requests_total{code=%q,path=%q} %d\n", k[0], k[1], m.requests[k])
	}
	header(w, "krkn_demo_http_request_duration_seconds", "histogram", "Time to serve a request, by path.")
	for _, p := range slices.Sorted(maps.Keys(m.durations)) {
		h := m.durations[p]
		var cum uint64
		for i, le := range buckets {
			cum += h.counts[i]
			bound := strconv.FormatFloat(le, 'g', -1, 64)
			fmt.Fprintf(w, "krkn_demo_http_request_duration_seconds_bucket{path=%q,le=%q} %d\n", p, bound, cum)
		}
		fmt.Fprintf(w, "krkn_demo_http_request_duration_seconds_bucket{path=%q,le=\"+Inf\"} %d\n", p, h.count)
		fmt.Fprintf(w, "krkn_demo_http_request_duration_seconds_sum{path=%q} %g\n", p, h.sum)
		fmt.Fprintf(w, "krkn_demo_http_request_duration_seconds_count{path=%q} %d\n", p, h.count)
	}
	header(w, "krkn_demo_upstream_requests_total", "counter", "Calls to the upstream Service, by result.")
	for _, r := range slices.Sorted(maps.Keys(m.upstream)) {
		fmt.Fprintf(w, "krkn_demo_upstream_requests_total{result=%q} %d\n", r, m.upstream[r])
	}
	header(w, "krkn_demo_tcp_connections_total", "counter", "TCP connections accepted by the server.")
	fmt.Fprintf(w, "krkn_demo_tcp_connections_total %d\n", m.connections.Load())
	header(w, "krkn_demo_tcp_stat", "gauge",
		"The pod network namespace's TCP counters (Tcp and TcpExt of /proc/net/snmp and /proc/net/netstat).")
	for _, s := range tcpStats() {
		fmt.Fprintf(w, "krkn_demo_tcp_stat{name=%q} %s\n", s[0], s[1])
	}
}

// header writes a family's HELP and TYPE lines.
func header(w io.Writer, name, kind, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tcpStats reads the "Tcp:" and "TcpExt:" header/value line pairs of the namespace's counters.
func tcpStats() [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, file := range []string{"/proc/net/snmp", "/proc/net/netstat"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		var header []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || (fields[0] != "Tcp:" && fields[0] != "TcpExt:") {
				header = nil
				continue
			}
			if header == nil || header[0] != fields[0] {
				header = fields
				continue
			}
			for i := 1; i < len(fields) && i < len(header); i++ {
				if _, err := strconv.ParseInt(fields[i], 10, 64); err == nil && !seen[header[i]] {
					seen[header[i]] = true
					out = append(out, [2]string{header[i], fields[i]})
				}
			}
			header = nil
		}
		f.Close()
	}
	return out
}

// countingListener counts every accepted connection.
type countingListener struct {
	net.Listener
	m *metrics
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.m.connections.Add(1)
	}
	return c, err
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// upstreamURL: the Service's address from the variables Kubernetes injects (NAME_SERVICE_HOST,
// NAME_SERVICE_PORT); empty with the reason when the pod predates the Service.
func upstreamURL(name string) (string, string) {
	prefix := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	host, port := os.Getenv(prefix+"_SERVICE_HOST"), os.Getenv(prefix+"_SERVICE_PORT")
	if host == "" || port == "" {
		return "", fmt.Sprintf("no %s_SERVICE_HOST/_PORT in the environment (the pod predates Service %s)", prefix, name)
	}
	return "http://" + net.JoinHostPort(host, port) + "/", ""
}

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	role := flag.String("role", "backend", "frontend or backend (a label in the answers and metrics)")
	upstream := flag.String("upstream", "", "Service the application's / calls first (a frontend's backend)")
	readyAfter := flag.Duration("ready-after", 0, "readiness probe answers 503 this long after start")
	readyJitter := flag.Duration("ready-jitter", 0, "plus a random part of this")
	crashChance := flag.Float64("crash-chance", 0, "probability of exiting 1 a second after start (a crash loop)")
	flag.Parse()

	pod, _ := os.Hostname()
	delay := *readyAfter
	if *readyJitter > 0 {
		delay += time.Duration(rand.Int63n(int64(*readyJitter)))
	}
	if *crashChance > 0 && rand.Float64() < *crashChance {
		log.Printf("demo-server %s: crashing on purpose (crash-chance %.2f)", *role, *crashChance)
		time.Sleep(time.Second)
		os.Exit(1)
	}
	started := time.Now()
	var stopping atomic.Bool
	ready := func() bool { return !stopping.Load() && time.Since(started) >= delay }

	m := newMetrics()
	client := &http.Client{Timeout: 2 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w, *role, ready())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if *upstream == "" {
			fmt.Fprintf(w, "%s %s: ok\n", *role, pod)
			return
		}
		url, why := upstreamURL(*upstream)
		if url == "" {
			m.upstreamResult("error")
			http.Error(w, fmt.Sprintf("%s %s: %s", *role, pod, why), http.StatusBadGateway)
			return
		}
		resp, err := client.Get(url)
		if err != nil {
			m.upstreamResult("error")
			http.Error(w, fmt.Sprintf("%s %s: %s unreachable: %v", *role, pod, *upstream, err), http.StatusBadGateway)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		m.upstreamResult(strconv.Itoa(resp.StatusCode))
		if resp.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("%s %s: %s answered %d", *role, pod, *upstream, resp.StatusCode), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "%s %s: ok; %s", *role, pod, body)
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		m.observe(r.URL.Path, rec.code, time.Since(begin).Seconds())
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("demo-server: %v", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	// PID 1 of a container ignores a signal it does not handle: stop on SIGTERM/SIGINT (a pod's
	// deletion, a container kill), answering the readiness probe 503 meanwhile.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-signals
		stopping.Store(true)
		log.Printf("demo-server %s: %v: stopping", *role, s)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Printf("demo-server %s (%s) on %s, ready after %v", *role, pod, ln.Addr(), delay)
	if err := srv.Serve(countingListener{ln, m}); err != nil && err != http.ErrServerClosed {
		log.Fatalf("demo-server: %v", err)
	}
}
