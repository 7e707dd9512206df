package main

import (
	"os"

	"github.com/spf13/pflag"
	"sigs.k8s.io/kwok/pkg/config"
	"sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

// runKwok wires kwok's command the way its own main does: global flags (logging, --config) are
// parsed leniently first, then the cobra command runs with them attached.
func runKwok() int {
	// The Kubernetes packages linked into this binary register a typed --version flag on
	// pflag.CommandLine at init; cobra merges that set into kwok's command and then fails reading
	// --version as a bool. Only kwok runs in this process, so give it the global set without it.
	withoutVersion := pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
	pflag.CommandLine.VisitAll(func(f *pflag.Flag) {
		if f.Name != "version" {
			withoutVersion.AddFlag(f)
		}
	})
	pflag.CommandLine = withoutVersion

	global := pflag.NewFlagSet("global", pflag.ContinueOnError)
	global.ParseErrorsWhitelist.UnknownFlags = true
	global.Usage = func() {}

	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, global)
	ctx, err := config.InitFlags(ctx, global)
	if err != nil {
		_, _ = os.Stderr.WriteString(global.FlagUsages())
		logger.Error("init config flags", err)
		return 1
	}
	command := cmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(global)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("kwok exited", err)
		return 1
	}
	return 0
}
