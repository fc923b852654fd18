package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgate/qgate/config"
)

const slackDoc = `
server: {public_url: 'https://qgate.example.com'}
groups:
  dba: [alice, bob]
slack:
  token_env: QGATE_SLACK_TOKEN
  signing_secret_file: SECRET_FILE
  channel: C0123456789
  api_url: https://slack-proxy.example.com/api
  identities:
    Alice.Smith@Example.com: alice
    bob@example.com: bob
`

func TestParse_Slack(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "slack.secret")
	if err := os.WriteFile(sf, []byte("8f742231b10e8888abcd99yyyzzz85a5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(slackDoc, "SECRET_FILE", sf, 1)
	cfg, err := config.Parse("qgate.yaml", []byte(doc), env(map[string]string{"QGATE_SLACK_TOKEN": "xoxb-1-2-abc"}))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Slack
	if s == nil {
		t.Fatal("no Slack")
	}
	if s.Token != "xoxb-1-2-abc" || string(s.SigningSecret) != "8f742231b10e8888abcd99yyyzzz85a5" || s.Channel != "C0123456789" {
		t.Errorf("got token %d bytes, secret %d bytes, channel %q", len(s.Token), len(s.SigningSecret), s.Channel)
	}
	if s.APIURL != "https://slack-proxy.example.com/api/" {
		t.Errorf("api_url = %q, want it to end in /", s.APIURL)
	}
	if len(s.Identities) != 2 || s.Identities["alice.smith@example.com"] != "alice" || s.Identities["bob@example.com"] != "bob" {
		t.Errorf("identities = %v", s.Identities)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}

func TestParse_NoSlack(t *testing.T) {
	cfg, err := config.Parse("qgate.yaml", []byte(valid), env(map[string]string{"BILLING_PW": "x", "PAYMENTS_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack != nil {
		t.Errorf("Slack = %+v without a slack section", cfg.Slack)
	}
}

func TestParse_SlackWarnings(t *testing.T) {
	doc := "groups: {dba: [alice]}\npolicies:\n  - {name: p, when: 'true', action: review, review: {approvers: [dba], slack: link}}\n"
	cfg, err := config.Parse("qgate.yaml", []byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Message, "review.slack has no effect without a slack section") {
		t.Errorf("warnings: %v", cfg.Warnings)
	}

	doc = "groups: {dba: [alice]}\nslack:\n  token_env: T\n  signing_secret_env: S\n  channel: C0123456789\n  identities: {carol@example.com: carol}\n"
	cfg, err = config.Parse("qgate.yaml", []byte(doc), env(map[string]string{"T": "xoxp-user-token", "S": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, w := range cfg.Warnings {
		msgs = append(msgs, w.String())
		if strings.Contains(w.Message, "xoxp-user-token") {
			t.Errorf("warning shows the token: %s", w)
		}
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"qgate.yaml:3: slack: the token from token_env is not a bot token",
		`qgate.yaml:6: slack.identities.carol@example.com: identity "carol" is in no group`,
		"qgate.yaml:2: slack: server.public_url is http://127.0.0.1:8080",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

// TestParse_SlackErrors checks that each malformed slack section is
// refused with a message naming its line, and that no message shows a
// secret.
func TestParse_SlackErrors(t *testing.T) {
	const token, secret = "xoxb-0000-1111-secrettoken", "signing-secret-0123"
	vars := map[string]string{"T": token, "S": secret, "EMPTY": ""}
	slack := func(lines ...string) string {
		return "groups: {dba: [alice]}\nslack:\n" + strings.Join(lines, "\n") + "\n"
	}
	ok := []string{"  token_env: T", "  signing_secret_env: S", "  channel: C0123456789"}
	with := func(extra ...string) string { return slack(append(append([]string{}, ok...), extra...)...) }
	for _, tt := range []struct {
		name string
		doc  string
		want []string
	}{
		{"InlineToken", slack("  token: "+token, "  signing_secret_env: S", "  channel: C0123456789"),
			[]string{`qgate.yaml:3: unknown key "token" in slack (known keys: token_env, token_file, signing_secret_env, signing_secret_file, channel, api_url, identities)`}},
		{"InlineSigningSecret", slack("  token_env: T", "  signing_secret: "+secret, "  channel: C0123456789"),
			[]string{`qgate.yaml:4: unknown key "signing_secret" in slack`}},
		{"NoToken", slack("  signing_secret_env: S", "  channel: C0123456789"),
			[]string{"qgate.yaml:2: slack: a bot token is required: set token_env or token_file"}},
		{"NoSigningSecret", slack("  token_env: T", "  channel: C0123456789"),
			[]string{"qgate.yaml:2: slack: the app's signing secret is required: set signing_secret_env or signing_secret_file"}},
		{"MissingTokenEnv", slack("  token_env: QGATE_SLACK_TOKEN", "  signing_secret_env: S", "  channel: C0123456789"),
			[]string{"qgate.yaml:3: slack: environment variable QGATE_SLACK_TOKEN (token_env) is not set"}},
		{"MissingSigningSecretEnv", slack("  token_env: T", "  signing_secret_env: QGATE_SLACK_SIGNING_SECRET", "  channel: C0123456789"),
			[]string{"qgate.yaml:4: slack: environment variable QGATE_SLACK_SIGNING_SECRET (signing_secret_env) is not set"}},
		{"EmptyToken", slack("  token_env: EMPTY", "  signing_secret_env: S", "  channel: C0123456789"),
			[]string{"qgate.yaml:3: slack: the token from token_env is empty"}},
		{"EmptySigningSecret", slack("  token_env: T", "  signing_secret_env: EMPTY", "  channel: C0123456789"),
			[]string{"qgate.yaml:4: slack: the signing secret from signing_secret_env is empty"}},
		{"BothTokens", slack("  token_env: T", "  token_file: /nonexistent", "  signing_secret_env: S", "  channel: C0123456789"),
			[]string{"qgate.yaml:3: slack: set token_env or token_file, not both"}},
		{"MissingTokenFile", slack("  token_file: /nonexistent/qgate-token", "  signing_secret_env: S", "  channel: C0123456789"),
			[]string{"qgate.yaml:3: slack: token_file: no such file or directory"}},
		{"NoChannel", slack("  token_env: T", "  signing_secret_env: S"), []string{"qgate.yaml:2: slack: channel is required"}},
		{"BadChannel", slack("  token_env: T", "  signing_secret_env: S", "  channel: 'Reviews Channel'"),
			[]string{`qgate.yaml:5: slack.channel: want a channel id such as C0123456789, got "Reviews Channel"`}},
		{"BadAPIURL", with("  api_url: slack.com/api"), []string{`qgate.yaml:6: slack.api_url: want an http:// or https:// URL such as https://slack.com/api/, got "slack.com/api"`}},
		{"APIURLWithQuery", with("  api_url: https://slack.com/api/?x=1"), []string{"qgate.yaml:6: slack.api_url: want a base URL without query or fragment"}},
		{"PlainHTTPAPIURL", with("  api_url: http://slack-proxy.example.com/api/"),
			[]string{"qgate.yaml:6: slack.api_url: plain http is allowed only to a loopback address"}},
		{"BadIdentityEmail", with("  identities:", "    alice: alice"), []string{`qgate.yaml:7: slack.identities: "alice" is not an e-mail address`}},
		{"EmptyIdentity", with("  identities:", "    alice@example.com: ''"), []string{"qgate.yaml:7: slack.identities.alice@example.com: want an identity name"}},
		{"CaseDuplicate", with("  identities:", "    alice@example.com: alice", "    Alice@Example.com: mallory"),
			[]string{"slack.identities: alice@example.com is listed twice (letter case does not count)"}},
		{"EmptySection", "slack:\n", []string{"qgate.yaml:1: slack: want token_env"}},
		{"NotAMapping", "slack: [a]\n", []string{"qgate.yaml:1: slack: want a mapping"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("qgate.yaml", []byte(tt.doc), env(vars))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), secret) {
				t.Errorf("error shows a secret:\n%v", err)
			}
		})
	}
}

// TestParse_SlackAllProblemsAtOnce: several mistakes in the section are
// all reported.
func TestParse_SlackAllProblemsAtOnce(t *testing.T) {
	doc := "slack:\n  token_env: NOPE\n  signing_secret_env: NADA\n  api_url: ftp://x\n"
	_, err := config.Parse("qgate.yaml", []byte(doc), env(nil))
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"qgate.yaml:2: slack: environment variable NOPE", "qgate.yaml:3: slack: environment variable NADA",
		"qgate.yaml:1: slack: channel is required", "qgate.yaml:4: slack.api_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}
