package azuresim

import (
	"encoding/json"
	"sync"
	"time"
)

// requestLogSize is how many recent ARM requests the simulator remembers
// for GET /admin/requests: enough for a failing e2e spec to show what the
// controller asked for in its last minute or so.
const requestLogSize = 2000

// Request is one ARM request in GET /admin/requests.
type Request struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Operation  string    `json:"operation"`
	Status     int       `json:"status"`
	ErrorCode  string    `json:"errorCode,omitempty"`
	DurationMs float64   `json:"durationMs"`
}

// requestLog is a ring buffer of the most recent ARM requests.
type requestLog struct {
	mu   sync.Mutex
	buf  []Request
	next int
	full bool
}

func newRequestLog() *requestLog { return &requestLog{buf: make([]Request, requestLogSize)} }

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf[l.next] = r
	l.next = (l.next + 1) % len(l.buf)
	if l.next == 0 {
		l.full = true
	}
}

// last returns up to n requests, oldest first.
func (l *requestLog) last(n int) []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	size := l.next
	if l.full {
		size = len(l.buf)
	}
	n = min(n, size)
	out := make([]Request, 0, n)
	for i := l.next - n; i < l.next; i++ {
		out = append(out, l.buf[(i+len(l.buf))%len(l.buf)])
	}
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next, l.full = 0, false
}

// errorCode reads error.code from the start of an ARM error body.
func errorCode(body []byte) string {
	var doc struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return doc.Error.Code
}
