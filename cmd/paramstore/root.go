package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "paramstore",
		Short:         "A Parameter Store that speaks the AWS SSM API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServerCmd(stdout, stderr), newKeysCmd(stdout), newNotifyCmd(stdout), newAuthCmd(stdout), newAuditCmd(stdout), newClusterCmd(stdout), newSnapshotCmd(stdout), newAgentCmd(stdout, stderr), newExecCmd(stderr), newCheckBoltCmd(stdout), newCompactCmd(stdout), newIncidentsCmd(stdout), newFaultCmd(stdout), newDrillCmd(stdout))
	root.AddCommand(newEverydayCmds(stdout, stderr)...)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitCodeError{code: exitUsage, err: err} })
	root.AddCommand(newBundleCmd(stdout), newExportCmd(stdout, stderr), newImportCmd(stdout, stderr), newMirrorCmd(stdout, stderr))
	return root
}
