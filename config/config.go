package config

import (
	"time"

	"github.com/qgate/qgate"
)

// Defaults applied when the file leaves a field out.
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultStoreDriver   = "sqlite"
	DefaultStoreDSN      = "./qgate.db"
	DefaultHold          = 25 * time.Second
	DefaultMaxBody       = 1 << 20
	DefaultReviewTimeout = 15 * time.Minute
)

// Config is a loaded, validated configuration.
type Config struct {
	// File is the path the configuration was read from.
	File     string
	Server   Server
	Store    Store
	Auth     Auth
	Targets  []*qgate.Target
	Groups   map[string][]string
	Policies []*qgate.Policy
	Defaults map[string]qgate.Action
	// ReviewDefaults applies to reviews that come from an environment
	// default rather than from a review policy.
	ReviewDefaults qgate.ReviewSpec
	// Warnings are suspicious but valid settings, with positions.
	Warnings []Problem
}

// Server is the listener of the REST API and web UI.
type Server struct {
	Listen    string
	PublicURL string
	TLS       *qgate.TLSFiles
}

// Store names the persistence backend.
type Store struct {
	Driver string // "sqlite" or "postgres"
	DSN    string
}

// Auth says where the key for hashing token secrets comes from.
type Auth struct {
	TokenKeyFile string // default: the SQLite file's path + ".key"
	TokenKeyEnv  string
}

// Target returns the named target, or nil.
func (c *Config) Target(name string) *qgate.Target {
	for _, t := range c.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// GroupsOf returns the groups an identity belongs to, in config order.
func (c *Config) GroupsOf(identity string) []string {
	var gs []string
	for _, g := range sortedKeys(c.Groups) {
		for _, m := range c.Groups[g] {
			if m == identity {
				gs = append(gs, g)
				break
			}
		}
	}
	return gs
}
