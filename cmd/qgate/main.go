// Command qgate is the query-level approval gateway: one binary for the
// server, offline policy checks, and operator tasks on the store.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/config"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1 // the command ran and failed (e.g. a policy test failed, the audit chain is broken)
	exitUsage    = 2 // bad flags, bad input or bad configuration
	exitInternal = 3 // store or I/O failure
)

func main() {
	// Every call gets a UUIDv7 request id. The pool reads the random part
	// in batches instead of 16 bytes per id (about 0.7 % of the gateway's
	// CPU per call); ids are not secrets. It is set here, not in a
	// package, because it is process-wide.
	uuid.EnableRandPool()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run executes the qgate command line and returns its exit code. Tests call
// it in-process.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	m := &Main{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := m.command()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "qgate:", errorText(err))
	return exitCode(err)
}

// Main holds what every subcommand shares: its streams.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

func (m *Main) command() *cobra.Command {
	root := &cobra.Command{
		Use:           "qgate",
		Short:         "qgate puts an approval checkpoint in front of every query",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		m.serveCommand(),
		m.demoCommand(),
		m.checkCommand(),
		m.policyCommand(),
		m.configCommand(),
		m.tokenCommand(),
		m.userCommand(),
		m.auditCommand(),
		m.reviewsCommand(),
	)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	return root
}

// usageError marks bad invocations (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// failure marks a command that ran and found a problem (exit 1), such as a
// failing policy test or a broken audit chain.
type failure struct{ error }

func (e failure) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error) int {
	var u usageError
	var f failure
	var ce *config.Error
	switch {
	case errors.As(err, &u), errors.As(err, &ce):
		return exitUsage
	case errors.As(err, &f):
		return exitError
	}
	switch qgate.ErrorCode(err) {
	case qgate.EINVALID:
		return exitUsage
	case qgate.ENOTFOUND, qgate.ECONFLICT, qgate.EFORBIDDEN, qgate.EUNAUTHORIZED, qgate.EEXPIRED:
		return exitError
	}
	return exitInternal
}

func errorText(err error) string {
	var qe *qgate.Error
	if errors.As(err, &qe) {
		return qe.Message
	}
	return err.Error()
}

// loadConfig reads the --config file.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usagef("--config is required")
	}
	cfg, err := config.Load(path)
	var ce *config.Error
	if err != nil && !errors.As(err, &ce) {
		return nil, usageError{err}
	}
	return cfg, err
}
