// service-hijacking: the web service of krkn's service_hijacking scenario, under krkn's image name
// (quay.io/krkn-chaos/krkn-service-hijacking). It keeps the contract krkn-lib's pod gives it:
// the plan file at $TEST_PLAN_PATH, the stats route at $STATS_ROUTE, the port in $FLASK_RUN_PORT.
//
// It answers as krkn's Flask service does: a plan entry's `resource` and `resource/<one segment>`
// are routed for the methods its `steps` name (HEAD and OPTIONS too, as Flask adds them); a step
// is chosen by the seconds since the service started: the first whose `duration` is not below
// them, else the last; the answer is the step's status, payload and mime type (`text/*` gets
// "; charset=utf-8", as Flask adds). A step missing duration, status or mime_type is answered
// 500 with krkn's message. Other paths are 404, other methods 405.
//
// Differences, on purpose: the plan is read as JSON (a YAML document krkn's service reads too;
// the standard library has no YAML), and each answer is logged on stdout as one JSON line, so
// the runner can count the statuses served from the pod's log.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type entry struct {
	Resource string                                  `json:"resource"`
	Steps    map[string][]map[string]json.RawMessage `json:"steps"`
}

type step struct {
	duration float64
	status   int
	mime     string
	payload  string
	missing  string
}

type request struct {
	Timestamp float64 `json:"timestamp"`
	Body      string  `json:"response_body"`
	Status    int     `json:"response_status_code"`
	Mime      string  `json:"mime_type"`
	FullPath  string  `json:"request_full_path"`
}

type stat struct {
	Resource string    `json:"resource"`
	Method   string    `json:"method"`
	Requests []request `json:"requests"`
}

type service struct {
	start time.Time
	steps map[string]map[string][]step // resource -> method -> steps
	stats []*stat
	route string
	mu    sync.Mutex
}

// parseStep reads one step as krkn's service uses it; missing fields are kept for the 500.
func parseStep(raw map[string]json.RawMessage) step {
	var s step
	var missing []string
	for _, key := range []string{"duration", "status", "mime_type"} {
		if _, ok := raw[key]; !ok {
			missing = append(missing, key)
		}
	}
	s.missing = strings.Join(missing, ", ")
	_ = json.Unmarshal(raw["duration"], &s.duration)
	_ = json.Unmarshal(raw["status"], &s.status)
	_ = json.Unmarshal(raw["mime_type"], &s.mime)
	var payload *string
	if json.Unmarshal(raw["payload"], &payload) == nil && payload != nil {
		s.payload = *payload
	}
	return s
}

// contentType is Flask's: text/* (and a few others) get the charset.
func contentType(mime string) string {
	if strings.Contains(mime, "charset=") {
		return mime
	}
	switch {
	case strings.HasPrefix(mime, "text/"), strings.HasSuffix(mime, "+xml"),
		mime == "application/ecmascript", mime == "application/javascript", mime == "application/sql",
		mime == "application/xml", mime == "application/xml-dtd", mime == "application/xml-external-parsed-entity":
		return mime + "; charset=utf-8"
	}
	return mime
}

// resourceOf maps a request path to its plan resource: the path itself, or the path less one
// last non-empty segment (Flask's `<params>`).
func (s *service) resourceOf(path string) (string, bool) {
	if _, ok := s.steps[path]; ok {
		return path, true
	}
	if i := strings.LastIndex(path, "/"); i > 0 && i < len(path)-1 {
		if _, ok := s.steps[path[:i]]; ok {
			return path[:i], true
		}
	}
	return "", false
}

func (s *service) choose(steps []step) step {
	elapsed := time.Since(s.start).Seconds()
	for _, st := range steps {
		if elapsed <= st.duration {
			return st
		}
	}
	return steps[len(steps)-1]
}

func fullPath(r *http.Request) string {
	return r.URL.Path + "?" + r.URL.RawQuery
}

func (s *service) record(resource, method string, st step, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, row := range s.stats {
		if row.Resource == resource && row.Method == method {
			row.Requests = append(row.Requests, request{
				Timestamp: float64(time.Now().UnixNano()) / 1e9, Body: st.payload, Status: st.status,
				Mime: st.mime, FullPath: fullPath(r)})
		}
	}
}

func (s *service) answer(w http.ResponseWriter, r *http.Request, status int, mime, body string) {
	w.Header().Set("Content-Type", contentType(mime))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
	line, _ := json.Marshal(map[string]any{"time": time.Now().UTC().Format(time.RFC3339Nano),
		"method": r.Method, "path": r.URL.Path, "status": status})
	fmt.Println(string(line))
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == s.route && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.mu.Lock()
		body, _ := json.Marshal(s.stats)
		s.mu.Unlock()
		s.answer(w, r, http.StatusOK, "application/json", string(body)+"\n")
		return
	}
	resource, ok := s.resourceOf(r.URL.Path)
	if !ok {
		s.answer(w, r, http.StatusNotFound, "text/html", "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n"+
			"<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually "+
			"please check your spelling and try again.</p>\n")
		return
	}
	methods := s.steps[resource]
	method := r.Method
	if _, ok := methods[method]; !ok && method == http.MethodHead {
		method = http.MethodGet
	}
	allowed := make([]string, 0, len(methods)+2)
	for m := range methods {
		allowed = append(allowed, m)
	}
	if _, ok := methods[http.MethodGet]; ok {
		allowed = append(allowed, http.MethodHead)
	}
	allowed = append(allowed, http.MethodOptions)
	sort.Strings(allowed)
	steps, ok := methods[method]
	if !ok {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		if r.Method == http.MethodOptions {
			s.answer(w, r, http.StatusOK, "text/html", "")
			return
		}
		s.answer(w, r, http.StatusMethodNotAllowed, "text/html", "<!doctype html>\n<html lang=en>\n"+
			"<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n"+
			"<p>The method is not allowed for the requested URL.</p>\n")
		return
	}
	for _, st := range steps {
		if st.missing != "" {
			s.answer(w, r, http.StatusInternalServerError, "text/html", fmt.Sprintf(
				"[KRKN ERROR] invalid plan step for route %s, method %s. The following parameters are missing : "+
					"\"%s\". Please refer to the documentation on https://github.com/krkn-chaos/krkn-service-hijacking",
				resource, r.Method, st.missing))
			return
		}
	}
	st := s.choose(steps)
	s.record(resource, r.Method, st, r) // HEAD has no stats row, as in Flask
	s.answer(w, r, st.status, st.mime, st.payload)
}

func main() {
	path := os.Getenv("TEST_PLAN_PATH")
	raw, err := os.ReadFile(path)
	if path == "" || err != nil {
		log.Printf("[KRKN ERROR] TEST_PLAN_PATH variable not set, or the provided path does not exist, " +
			"did you mount the config map containing the test plan to the service?")
		os.Exit(1)
	}
	var plan []entry
	if err := json.Unmarshal(raw, &plan); err != nil {
		log.Printf("[KRKN ERROR] %s: not a plan (a JSON list of resources): %v", path, err)
		os.Exit(1)
	}
	s := &service{start: time.Now(), steps: map[string]map[string][]step{}, route: os.Getenv("STATS_ROUTE")}
	if s.route == "" {
		s.route = "/stats"
	}
	for _, e := range plan {
		if s.steps[e.Resource] == nil {
			s.steps[e.Resource] = map[string][]step{}
		}
		for method, list := range e.Steps {
			if len(list) == 0 {
				continue
			}
			for _, raw := range list {
				s.steps[e.Resource][method] = append(s.steps[e.Resource][method], parseStep(raw))
			}
			s.stats = append(s.stats, &stat{Resource: e.Resource, Method: method, Requests: []request{}})
		}
	}
	port := os.Getenv("FLASK_RUN_PORT")
	if port == "" {
		port = "5000"
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		os.Exit(0)
	}()
	server := &http.Server{Addr: "0.0.0.0:" + port, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("serving the plan of %s on port %s (stats at %s)", path, port, s.route)
	log.Fatal(server.ListenAndServe())
}
