// Package demo holds what `qgate demo` runs beside qgate: a small sample
// HTTP API to put behind the gateway.
package demo

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// Item is one record of the sample API.
type Item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// SampleAPI is an in-memory REST API: GET/POST /v1/items, GET/DELETE
// /v1/items/{id}. It counts the calls that changed data, so a demo (or a
// test) can show that an approved call ran exactly once.
type SampleAPI struct {
	mu      sync.Mutex
	items   map[int]Item
	next    int
	Deletes int
	Creates int
	GraphQL int
}

// NewSampleAPI returns the API with three items.
func NewSampleAPI() *SampleAPI {
	a := &SampleAPI{items: map[int]Item{}, next: 1}
	for _, n := range []string{"invoice-2026-001", "invoice-2026-002", "invoice-2026-003"} {
		a.items[a.next] = Item{ID: a.next, Name: n}
		a.next++
	}
	return a
}

// Handler serves the API.
func (a *SampleAPI) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/items", a.list)
	mux.HandleFunc("POST /v1/items", a.create)
	mux.HandleFunc("GET /v1/items/{id}", a.get)
	mux.HandleFunc("DELETE /v1/items/{id}", a.delete)
	mux.HandleFunc("POST /graphql", a.graphql)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *SampleAPI) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	out := make([]Item, 0, len(a.items))
	for _, it := range a.items {
		out = append(out, it)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (a *SampleAPI) get(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	it, ok := a.items[id]
	a.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such item"})
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (a *SampleAPI) create(w http.ResponseWriter, r *http.Request) {
	var in Item
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"name": "..."}`})
		return
	}
	a.mu.Lock()
	in.ID = a.next
	a.next++
	a.items[in.ID] = in
	a.Creates++
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, in)
}

func (a *SampleAPI) delete(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	it, ok := a.items[id]
	delete(a.items, id)
	if ok {
		a.Deletes++
	}
	a.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such item"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": it})
}

// GraphQLCalls returns how many GraphQL requests reached the API.
func (a *SampleAPI) GraphQLCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.GraphQL
}

// Counts returns how many creates and deletes ran.
func (a *SampleAPI) Counts() (creates, deletes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Creates, a.Deletes
}

// graphql answers any GraphQL request with an empty data object and counts
// it; qgate has already decided whether it may run.
func (a *SampleAPI) graphql(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.GraphQL++
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{}})
}
