package pgproxy_test

import (
	"errors"
	"strconv"

	pgproxy "github.com/qgate/qgate/proxy/postgres"
)

type pgproxyProxy = pgproxy.Proxy

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func itoa(n int) string { return strconv.Itoa(n) }
