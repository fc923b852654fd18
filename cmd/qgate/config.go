package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (m *Main) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with configuration files"}
	var file string
	validate := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a configuration file and report every problem with its line",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(m.Stderr, "warning:", w)
			}
			fmt.Fprintf(m.Stdout, "%s: ok (%d targets, %d policies, %d groups)\n", file, len(cfg.Targets), len(cfg.Policies), len(cfg.Groups))
			return nil
		},
	}
	validate.Flags().StringVar(&file, "config", "", "configuration file")
	cmd.AddCommand(validate)
	return cmd
}
