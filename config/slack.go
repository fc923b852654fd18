package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// slackChannelID is a channel's id (C… public, G… private); a name is
	// lower case, as Slack makes it, with an optional leading #.
	slackChannelID   = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
	slackChannelName = regexp.MustCompile(`^#?[a-z0-9][a-z0-9._-]{0,79}$`)
	emailRE          = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

func (l *loader) buildSlack(fc *fileConfig, cfg *Config) {
	fs := fc.Slack
	if fs == nil {
		if l.node("slack") != nil {
			l.problem(l.line("slack"), "slack: want token_env (or token_file), signing_secret_env (or signing_secret_file) and channel, or leave slack out")
		}
		for _, p := range cfg.Policies {
			if p.Review != nil && p.Review.Slack != "" {
				cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: l.line("policies"),
					Message: fmt.Sprintf("policy %q: review.slack has no effect without a slack section", p.Name)})
				break
			}
		}
		return
	}
	at := func(keys ...any) int {
		if len(keys) == 0 {
			return l.keyLine("slack") // the section itself: its key's line, not its first entry's
		}
		return l.line(append([]any{"slack"}, keys...)...)
	}
	s := &Slack{Channel: fs.Channel, Identities: map[string]string{}}

	if fs.TokenEnv == "" && fs.TokenFile == "" {
		l.problem(at(), "slack: a bot token is required: set token_env or token_file")
	} else if v, ok := l.secretFrom("slack", "token", fs.TokenEnv, fs.TokenFile, "slack"); ok {
		key := keyOf("token", fs.TokenFile)
		switch {
		case strings.TrimSpace(v) == "":
			l.problem(at(key), "slack: the token from %s is empty", key)
		case !strings.HasPrefix(v, "xoxb-") && !strings.HasPrefix(v, "xoxe.xoxb-"):
			cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: at(key),
				Message: fmt.Sprintf("slack: the token from %s is not a bot token (xoxb-…); qgate needs the Bot User OAuth Token", key)})
		}
		s.Token = strings.TrimSpace(v)
	}
	if fs.SigningSecretEnv == "" && fs.SigningSecretFile == "" {
		l.problem(at(), "slack: the app's signing secret is required: set signing_secret_env or signing_secret_file")
	} else if v, ok := l.secretFrom("slack", "signing_secret", fs.SigningSecretEnv, fs.SigningSecretFile, "slack"); ok {
		key := keyOf("signing_secret", fs.SigningSecretFile)
		if strings.TrimSpace(v) == "" {
			l.problem(at(key), "slack: the signing secret from %s is empty", key)
		}
		s.SigningSecret = []byte(strings.TrimSpace(v))
	}

	switch {
	case fs.Channel == "":
		l.problem(at(), "slack: channel is required (the channel's id, C…, from its details in Slack)")
	case !slackChannelID.MatchString(fs.Channel) && !slackChannelName.MatchString(fs.Channel):
		l.problem(at("channel"), "slack.channel: want a channel id such as C0123456789, got %q", fs.Channel)
	}

	if fs.APIURL != "" {
		u, err := url.Parse(fs.APIURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
			l.problem(at("api_url"), "slack.api_url: want an http:// or https:// URL such as https://slack.com/api/, got %q", fs.APIURL)
		case u.RawQuery != "" || u.Fragment != "":
			l.problem(at("api_url"), "slack.api_url: want a base URL without query or fragment, got %q", fs.APIURL)
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			l.problem(at("api_url"), "slack.api_url: plain http is allowed only to a loopback address: the bot token would travel unencrypted to %s", u.Hostname())
		default:
			s.APIURL = strings.TrimRight(fs.APIURL, "/") + "/"
		}
	}

	for email, identity := range fs.Identities {
		line := at("identities", email)
		key := strings.ToLower(strings.TrimSpace(email))
		if !emailRE.MatchString(key) {
			l.problem(line, "slack.identities: %q is not an e-mail address", email)
			continue
		}
		if strings.TrimSpace(identity) == "" {
			l.problem(line, "slack.identities.%s: want an identity name", email)
			continue
		}
		if prev, dup := s.Identities[key]; dup && prev != identity {
			l.problem(line, "slack.identities: %s is listed twice (letter case does not count), for %s and %s", key, prev, identity)
			continue
		}
		s.Identities[key] = identity
		if len(cfg.GroupsOf(identity)) == 0 {
			cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: line,
				Message: fmt.Sprintf("slack.identities.%s: identity %q is in no group, so it cannot approve anything", email, identity)})
		}
	}
	if strings.HasPrefix(cfg.Server.PublicURL, "http://127.") || strings.HasPrefix(cfg.Server.PublicURL, "http://localhost") {
		cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: at(),
			Message: fmt.Sprintf("slack: server.public_url is %s: links in Slack messages will not open for approvers on other machines", cfg.Server.PublicURL)})
	}
	cfg.Slack = s
}

// keyLine returns the line of a top-level key.
func (l *loader) keyLine(key string) int {
	if l.root != nil && l.root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(l.root.Content); i += 2 {
			if l.root.Content[i].Value == key {
				return l.root.Content[i].Line
			}
		}
	}
	return l.line(key)
}

// keyOf names the key a secret came from.
func keyOf(prefix, file string) string {
	if file != "" {
		return prefix + "_file"
	}
	return prefix + "_env"
}
