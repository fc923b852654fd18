package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/qgate/qgate/notify/slack"
	"github.com/qgate/qgate/store/sqlite"
)

// SlackInteractionsPath is where the Slack app's interactivity requests
// arrive, on the server listener (docs/slack.md).
const SlackInteractionsPath = "/slack/interactions"

var _ slack.MessageStore = (*sqlite.DB)(nil)

// newSlack builds the Slack notifier when the configuration has a slack
// section, and registers it with the review engine.
func (s *Server) newSlack(logger *slog.Logger) {
	c := s.Config.Slack
	if c == nil {
		return
	}
	opts := slack.Options{
		Token: c.Token, Channel: c.Channel, APIURL: c.APIURL, SigningSecret: c.SigningSecret,
		Reviews:    s.Reviews,
		Identities: (&slack.Directory{Emails: c.Identities, Store: s.Store, GroupsOf: s.Config.GroupsOf}).Lookup,
		PublicURL:  s.Config.Server.PublicURL,
		Logger:     logger,
	}
	if ms, ok := s.Store.(slack.MessageStore); ok {
		opts.Messages = ms
	} else {
		logger.Warn("the store does not keep Slack message references: after a restart, messages are updated only once clicked")
	}
	s.slack = slack.New(opts)
	s.Reviews.Notifiers = append(s.Reviews.Notifiers, s.slack)
}

// withSlack serves Slack's interactivity requests beside h.
func (s *Server) withSlack(h http.Handler) http.Handler {
	if s.slack == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle(SlackInteractionsPath, s.slack.InteractionHandler())
	mux.Handle("/", h)
	return mux
}

// shutdownSlack delivers queued Slack updates and waits for clicks in
// progress, for at most ten seconds.
func (s *Server) shutdownSlack() {
	if s.slack == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.slack.Shutdown(ctx)
}
