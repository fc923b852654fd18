package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultClientTimeout bounds each Client call but Watch.
const DefaultClientTimeout = 30 * time.Second

// Client calls a qgate server's API with one identity's token. An error
// response is returned as a *Problem (which unwraps to a *qgate.Error);
// failing to reach the server is any other error.
type Client struct {
	// URL is the server's base URL, such as http://127.0.0.1:8080.
	URL   string
	Token string
	// HTTP is the client used (http.DefaultClient when nil). Keep its
	// Timeout zero for Watch; other calls are bounded by Timeout.
	HTTP    *http.Client
	Timeout time.Duration
}

// NewClient returns a Client for the server at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{URL: strings.TrimRight(baseURL, "/"), Token: token, Timeout: DefaultClientTimeout}
}

// ReviewQuery filters ListReviews; zero fields match everything.
type ReviewQuery struct {
	Status    string // pending, approved, rejected, expired, cancelled or all
	Target    string
	Requester string
	Limit     int
}

// ListReviews returns reviews, newest first.
func (c *Client) ListReviews(ctx context.Context, q ReviewQuery) ([]*Review, error) {
	v := url.Values{}
	for k, s := range map[string]string{"status": q.Status, "target": q.Target, "requester": q.Requester} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/api/v1/reviews"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []*Review
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Review returns one review.
func (c *Client) Review(ctx context.Context, id int64) (*Review, error) {
	var out Review
	return &out, c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/reviews/%d", id), nil, &out)
}

// Approve approves review id; grant is "" or a duration such as "30m".
func (c *Client) Approve(ctx context.Context, id int64, comment, grant string) (*Review, error) {
	var out Review
	return &out, c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/reviews/%d/approve", id), VoteRequest{Comment: comment, Grant: grant}, &out)
}

// Reject rejects review id; the comment becomes its reason.
func (c *Client) Reject(ctx context.Context, id int64, comment string) (*Review, error) {
	var out Review
	return &out, c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/reviews/%d/reject", id), VoteRequest{Comment: comment}, &out)
}

// Me returns who the token speaks for.
func (c *Client) Me(ctx context.Context) (*Caller, error) {
	var out Caller
	return &out, c.do(ctx, http.MethodGet, "/api/v1/me", nil, &out)
}

// Event is one review event from the server's stream.
type Event struct {
	ID     string
	Type   string // qgate.ReviewCreated, ...
	Review *Review
}

// Watch streams review events to fn until ctx ends (it then returns
// ctx's error), fn returns an error (returned as is), or the stream breaks.
// ready, if not nil, is called once the server has accepted the stream:
// events from then on reach fn.
func (c *Client) Watch(ctx context.Context, ready func(), fn func(Event) error) error {
	req, err := c.request(ctx, http.MethodGet, "/api/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.client().Do(req)
	if err != nil {
		return c.reachError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readProblem(resp)
	}
	if ready != nil {
		ready()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var ev Event
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if data.Len() > 0 && ev.Type != "" {
				ev.Review = &Review{}
				if err := json.Unmarshal([]byte(data.String()), ev.Review); err != nil {
					return fmt.Errorf("event %s: %w", ev.ID, err)
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, data = Event{}, strings.Builder{}
		case field == "": // a comment
		case field == "event":
			ev.Type = value
		case field == "id":
			ev.ID = value
		case field == "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream from %s: %w", c.URL, err)
	}
	return fmt.Errorf("event stream from %s ended", c.URL)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return c.reachError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readProblem(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", c.URL, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	return req, nil
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) reachError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("cannot reach qgate at %s: %w", c.URL, err)
}

// readProblem turns an error response into a *Problem, whatever its body.
func readProblem(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/problem+json" && mt != "application/json" || json.Unmarshal(body, p) != nil {
		p = &Problem{Detail: strings.TrimSpace(string(body))}
	}
	p.Status = resp.StatusCode
	if p.Code == "" {
		p.Code = codeOf(resp.StatusCode)
	}
	if p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	if p.Detail == "" {
		p.Detail = fmt.Sprintf("server answered %d %s", p.Status, p.Title)
	}
	return p
}
