package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/policytest"
)

func (m *Main) policyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Test policies"}
	var file string
	test := &cobra.Command{
		Use:   "test FILE... [--config CONFIG]",
		Short: "Run policy test files: requests with the decisions you expect",
		Long: `Run policy test files: YAML lists of requests with expected decisions.
A file may name its configuration (config: path, relative to the file);
--config overrides it. Exit status 1 when a case fails, 2 on bad input.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			failed := 0
			for _, path := range args {
				f, err := policytest.Load(path)
				if err != nil {
					return usageError{err}
				}
				cfgPath := file
				if cfgPath == "" {
					cfgPath = f.Config
				}
				if cfgPath == "" {
					return usagef("%s names no config: pass --config", path)
				}
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				g, err := newOfflineGate(cfg)
				if err != nil {
					return err
				}
				if len(args) > 1 {
					fmt.Fprintf(m.Stdout, "== %s\n", path)
				}
				failed += policytest.Report(m.Stdout, f, policytest.Run(c.Context(), g, cfg, f))
			}
			if failed > 0 {
				return failure{fmt.Errorf("%d policy test case(s) failed", failed)}
			}
			return nil
		},
	}
	test.Flags().StringVar(&file, "config", "", "configuration file (overrides the test file's config)")
	cmd.AddCommand(test)
	return cmd
}
