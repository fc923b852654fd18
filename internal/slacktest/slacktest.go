// Package slacktest is a local fake of the parts of Slack that qgate
// talks to: the Web API methods chat.postMessage, chat.update and
// users.info, answering with Slack's JSON shapes, and the response_url
// endpoint that ephemeral replies go to. It also builds and signs the
// block_actions interactions Slack sends when someone clicks a button.
//
// Tests point the official slack-go client at Server.APIURL.
package slacktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Call is one request the fake received.
type Call struct {
	Method string // "chat.postMessage", "chat.update", "users.info", "response_url", …
	Auth   string // the Authorization header
	Form   url.Values
	JSON   map[string]any // response_url bodies
}

// Server is the fake Slack. Create it with New.
type Server struct {
	*httptest.Server
	// Token is the bot token the Web API accepts; Channel the one channel
	// chat.postMessage accepts.
	Token, Channel string

	mu       sync.Mutex
	calls    []Call
	users    map[string]string // Slack user id -> profile e-mail
	messages map[string]string // review id (button value) -> ts of its message
	seq      int
}

// New starts a fake that accepts token and posts to channel, and stops it
// when tb ends.
func New(tb testing.TB, token, channel string) *Server {
	s := &Server{Token: token, Channel: channel, users: map[string]string{}, messages: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// AddUser makes users.info know the Slack user id with this profile
// e-mail.
func (s *Server) AddUser(id, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = email
}

// APIURL is the Web API base URL, for slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.URL + "/api/" }

// ResponseURLPrefix is where the fake's response URLs start.
func (s *Server) ResponseURLPrefix() string { return s.URL + "/actions/" }

// ResponseURL is the response_url put in interactions.
func (s *Server) ResponseURL() string { return s.ResponseURLPrefix() + "T0001/123/abc" }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/actions/") {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.calls = append(s.calls, Call{Method: "response_url", JSON: body})
		w.WriteHeader(http.StatusOK)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	_ = r.ParseForm()
	c := Call{Method: method, Auth: r.Header.Get("Authorization"), Form: r.PostForm}
	s.calls = append(s.calls, c)
	if c.Auth != "Bearer "+s.Token && r.PostForm.Get("token") != s.Token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "chat.postMessage":
		if r.PostForm.Get("channel") != s.Channel {
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		s.seq++
		ts := fmt.Sprintf("1700000000.%06d", 100*s.seq)
		for _, id := range buttonValues(r.PostForm.Get("blocks")) {
			s.messages[id] = ts
		}
		writeJSON(w, map[string]any{"ok": true, "channel": s.Channel, "ts": ts, "message": map[string]any{
			"type": "message", "subtype": "bot_message", "text": r.PostForm.Get("text"), "ts": ts,
			"bot_id": "B0QGATE", "app_id": "A0QGATE", "blocks": json.RawMessage(orNull(r.PostForm.Get("blocks"))),
		}})
	case "chat.update":
		if r.PostForm.Get("channel") != s.Channel {
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		if !s.posted(r.PostForm.Get("ts")) {
			writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": r.PostForm.Get("ts"),
			"text": r.PostForm.Get("text"), "message": map[string]any{
				"type": "message", "text": r.PostForm.Get("text"), "bot_id": "B0QGATE",
				"blocks": json.RawMessage(orNull(r.PostForm.Get("blocks"))), "edited": map[string]any{"user": "B0QGATE", "ts": "1700000001.000000"},
			}})
	case "users.info":
		id := r.PostForm.Get("user")
		email, ok := s.users[id]
		if !ok {
			writeJSON(w, map[string]any{"ok": false, "error": "user_not_found"})
			return
		}
		name := strings.Split(email, "@")[0]
		writeJSON(w, map[string]any{"ok": true, "user": map[string]any{
			"id": id, "team_id": "T0001", "name": name, "deleted": false, "real_name": name, "tz": "Europe/Paris",
			"is_admin": false, "is_bot": false, "updated": 1700000000,
			"profile": map[string]any{"real_name": name, "display_name": name, "email": email, "team": "T0001"},
		}})
	default:
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// posted reports whether ts is a message the fake posted. s.mu is held.
func (s *Server) posted(ts string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(ts, "1700000000."))
	return err == nil && n > 0 && n%100 == 0 && n/100 <= s.seq
}

// buttonValues returns the values of the buttons in a blocks document.
func buttonValues(blocks string) []string {
	var bs []struct {
		Type     string `json:"type"`
		Elements []struct {
			Value string `json:"value"`
		} `json:"elements"`
	}
	_ = json.Unmarshal([]byte(blocks), &bs)
	var out []string
	for _, b := range bs {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			if e.Value != "" {
				out = append(out, e.Value)
			}
		}
	}
	return out
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// Calls returns the calls of method received so far, oldest first.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits up to 5 seconds until the fake has received n calls of
// method and returns them; it fails tb otherwise.
func (s *Server) WaitCalls(tb testing.TB, method string, n int) []Call {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs := s.Calls(method)
		if len(cs) >= n {
			return cs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("slack fake: got %d %s calls, want %d", len(cs), method, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// MessageTS returns the ts of the message posted for review id ("" if
// none).
func (s *Server) MessageTS(reviewID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages[strconv.FormatInt(reviewID, 10)]
}

// Click builds the form body of the block_actions interaction Slack sends
// when user clicks the button actionID of review reviewID's message.
func (s *Server) Click(user, actionID string, reviewID int64) []byte {
	id := strconv.FormatInt(reviewID, 10)
	ts := s.MessageTS(reviewID)
	if ts == "" {
		ts = "1700000000.000100"
	}
	payload := map[string]any{
		"type": "block_actions", "team": map[string]any{"id": "T0001", "domain": "example"},
		"user":         map[string]any{"id": user, "username": strings.ToLower(user), "team_id": "T0001"},
		"api_app_id":   "A0QGATE",
		"token":        "legacy-verification-token",
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": s.Channel, "is_ephemeral": false},
		"trigger_id":   "123.456.abc",
		"channel":      map[string]any{"id": s.Channel, "name": "reviews"},
		"message":      map[string]any{"type": "message", "ts": ts, "bot_id": "B0QGATE", "text": "Review #" + id},
		"response_url": s.ResponseURL(),
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": "qgate_review_" + id, "type": "button",
			"value": id, "action_ts": "1700000002.000200",
			"text": map[string]any{"type": "plain_text", "text": actionID, "emoji": true},
		}},
	}
	b, _ := json.Marshal(payload)
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

// Sign returns the X-Slack-Signature Slack sends with body at ts (Unix
// seconds): "v0=" + hex HMAC-SHA256(secret, "v0:<ts>:<body>"). It is
// written here independently of the code under test.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Request builds the POST Slack sends to an interactivity URL, signed
// with secret at time at.
func Request(target string, secret []byte, at time.Time, body []byte) *http.Request {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		panic(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", Sign(secret, ts, body))
	return req
}

// Blocks returns the call's blocks as JSON without HTML escaping, as Slack
// renders their text; it fails tb unless they decode as Slack blocks.
func (c Call) Blocks(tb testing.TB) string {
	tb.Helper()
	var blocks slackapi.Blocks
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &blocks); err != nil {
		tb.Fatalf("blocks: %v", err)
	}
	var v any
	_ = json.Unmarshal([]byte(c.Form.Get("blocks")), &v)
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.String()
}

// ActionIDs returns the action ids of the call's buttons, in order.
func (c Call) ActionIDs(tb testing.TB) []string {
	tb.Helper()
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &blocks); err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, e := range b["elements"].([]any) {
			ids = append(ids, e.(map[string]any)["action_id"].(string))
		}
	}
	return ids
}

// Text returns the text of an ephemeral reply ("" for other calls).
func (c Call) Text() string {
	s, _ := c.JSON["text"].(string)
	return s
}
