package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The file* types mirror the YAML document exactly. Their yaml tags are the
// only keys accepted; anything else is reported as an unknown key.

type fileConfig struct {
	Server   fileServer          `yaml:"server"`
	Store    fileStore           `yaml:"store"`
	Auth     fileAuth            `yaml:"auth"`
	Audit    fileAudit           `yaml:"audit"`
	Targets  []fileTarget        `yaml:"targets"`
	Groups   map[string][]string `yaml:"groups"`
	Policies []filePolicy        `yaml:"policies"`
	Defaults map[string]string   `yaml:"defaults"`
	Review   *fileReviewDefaults `yaml:"review_defaults"`
	Webhooks []fileWebhook       `yaml:"webhooks"`
	Slack    *fileSlack          `yaml:"slack"`
}

type fileServer struct {
	Listen    string        `yaml:"listen"`
	PublicURL string        `yaml:"public_url"`
	TLS       *fileTLS      `yaml:"tls"`
	Sessions  *fileSessions `yaml:"sessions"`
	OIDC      *fileOIDC     `yaml:"oidc"`
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// fileSessions are the web UI's session lifetimes.
type fileSessions struct {
	Lifetime    duration `yaml:"lifetime"`
	IdleTimeout duration `yaml:"idle_timeout"`
}

// fileOIDC is the web UI's OpenID Connect provider. There is deliberately
// no inline client secret: it comes from client_secret_env or
// client_secret_file.
type fileOIDC struct {
	Name             string   `yaml:"name"`
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecretEnv  string   `yaml:"client_secret_env"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	RedirectURL      string   `yaml:"redirect_url"`
	Scopes           []string `yaml:"scopes"`
	IdentityClaim    string   `yaml:"identity_claim"`
	GroupsClaim      string   `yaml:"groups_claim"`
}

type fileStore struct {
	Driver string `yaml:"driver"`
	DSN    string `yaml:"dsn"`
}

type fileAuth struct {
	TokenKeyFile string   `yaml:"token_key_file"`
	TokenKeyEnv  string   `yaml:"token_key_env"`
	TokenCache   duration `yaml:"token_cache"`
}

type fileAudit struct {
	Durability string `yaml:"durability"`
}

type fileTLS struct {
	Cert               string `yaml:"cert"`
	Key                string `yaml:"key"`
	CA                 string `yaml:"ca"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

type fileTarget struct {
	Name                string       `yaml:"name"`
	Protocol            string       `yaml:"protocol"`
	Environment         string       `yaml:"environment"`
	Listen              string       `yaml:"listen"`
	Upstream            fileUpstream `yaml:"upstream"`
	GraphQL             *fileGraphQL `yaml:"graphql"`
	Hold                duration     `yaml:"hold"`
	MaxBody             byteSize     `yaml:"max_body"`
	AllowMethodOverride bool         `yaml:"allow_method_override"`
	TokenHeader         string       `yaml:"token_header"`
	TLS                 *fileTLS     `yaml:"tls"`
	// postgres resource limits
	MaxConnections         *int     `yaml:"max_connections"`
	MaxConnectionsPerToken *int     `yaml:"max_connections_per_token"`
	IdleTimeout            duration `yaml:"idle_timeout"`
}

type fileUpstream struct {
	// postgres
	Address      string `yaml:"address"`
	Database     string `yaml:"database"`
	User         string `yaml:"user"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	SSLMode      string `yaml:"sslmode"`
	// http
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	TLS     *fileTLS          `yaml:"tls"`
}

type fileGraphQL struct {
	Path string `yaml:"path"`
}

type filePolicy struct {
	Name         string      `yaml:"name"`
	Targets      []string    `yaml:"targets"`
	Environments []string    `yaml:"environments"`
	When         string      `yaml:"when"`
	Action       string      `yaml:"action"`
	Message      string      `yaml:"message"`
	Review       *fileReview `yaml:"review"`
}

type fileReview struct {
	Approvers []string `yaml:"approvers"`
	Quorum    int      `yaml:"quorum"`
	Timeout   duration `yaml:"timeout"`
	Slack     string   `yaml:"slack"`
}

type fileReviewDefaults struct {
	Approvers []string `yaml:"approvers"`
	Quorum    int      `yaml:"quorum"`
	Timeout   duration `yaml:"timeout"`
}

// fileWebhook is one outgoing webhook. There is deliberately no inline
// secret key: the signing secret comes from secret_env or secret_file.
type fileWebhook struct {
	Name        string   `yaml:"name"`
	URL         string   `yaml:"url"`
	SecretEnv   string   `yaml:"secret_env"`
	SecretFile  string   `yaml:"secret_file"`
	Events      []string `yaml:"events"`
	Timeout     duration `yaml:"timeout"`
	MaxAttempts int      `yaml:"max_attempts"`
}

// fileSlack is the Slack app. There are deliberately no inline token or
// signing_secret keys: they come from *_env or *_file.
type fileSlack struct {
	TokenEnv          string            `yaml:"token_env"`
	TokenFile         string            `yaml:"token_file"`
	SigningSecretEnv  string            `yaml:"signing_secret_env"`
	SigningSecretFile string            `yaml:"signing_secret_file"`
	Channel           string            `yaml:"channel"`
	APIURL            string            `yaml:"api_url"`
	Identities        map[string]string `yaml:"identities"`
}

// duration accepts Go duration strings ("15m", "25s").
type duration struct {
	time.Duration
	set bool
}

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return nodeError(n, "want a duration such as 30s or 15m")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return nodeError(n, "invalid duration %q (want e.g. 30s, 15m, 1h)", s)
	}
	if v <= 0 {
		return nodeError(n, "duration %q must be positive", s)
	}
	d.Duration, d.set = v, true
	return nil
}

// byteSize accepts plain integers or sizes with a unit (10MB, 512KiB).
type byteSize int64

func (b *byteSize) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	var v int64
	if _, err := fmt.Sscanf(s, "%d", &v); err != nil || v <= 0 || fmt.Sprint(v) != s {
		return nodeError(n, "invalid size %q (want e.g. 1048576, 10MB or 512KiB)", n.Value)
	}
	*b = byteSize(v * mult)
	return nil
}

// nodeError reports a problem with a value the way yaml reports type errors,
// so decoding carries on and the line is kept.
func nodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}
