package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/qgate/qgate"
)

// Directory maps a Slack profile e-mail to the qgate identity who may
// decide reviews. Its Lookup method is an Options.Identities.
//
// The configured Emails come first (slack.identities in the
// configuration): an e-mail listed there is that identity, whatever the
// store says. Otherwise the identity whose stored e-mail equals it is
// used, if exactly one has it; two identities sharing an e-mail are
// refused rather than guessed between. E-mails compare without regard to
// case. The groups come from GroupsOf (the configuration's groups).
type Directory struct {
	// Emails maps e-mail addresses to identities.
	Emails map[string]string
	// Store holds identities with their e-mail; nil to use Emails only.
	Store qgate.IdentityStore
	// GroupsOf returns an identity's groups.
	GroupsOf func(identity string) []string
}

// Lookup returns the identity and groups of the person with this e-mail;
// ENOTFOUND when nobody has it, EFORBIDDEN when it is ambiguous.
func (d *Directory) Lookup(ctx context.Context, email string) (string, []string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", nil, qgate.Errorf(qgate.ENOTFOUND, "no e-mail address")
	}
	identity := ""
	for e, id := range d.Emails {
		if strings.EqualFold(e, email) {
			identity = id
			break
		}
	}
	if identity == "" && d.Store != nil {
		ids, err := d.Store.ListIdentities(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("look up identity by e-mail: %w", err)
		}
		for _, id := range ids {
			if id.Email == "" || !strings.EqualFold(strings.TrimSpace(id.Email), email) {
				continue
			}
			if identity != "" {
				return "", nil, qgate.Errorf(qgate.EFORBIDDEN,
					"identities %s and %s share this e-mail address; list it under slack.identities", identity, id.Name)
			}
			identity = id.Name
		}
	}
	if identity == "" {
		return "", nil, qgate.Errorf(qgate.ENOTFOUND, "no qgate identity has this e-mail address")
	}
	var groups []string
	if d.GroupsOf != nil {
		groups = d.GroupsOf(identity)
	}
	return identity, groups, nil
}
