package main

import (
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"

	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

func newWatchCmd(g *globalFlags) *cobra.Command {
	var (
		server   string
		afterSeq uint64
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "watch [flags] SESSION",
		Short: "Follow a session's events until its current work ends",
		Long: `Follow a session's events from --after-seq (0 replays the whole log), reconnecting
without gaps or duplicates if the connection drops, until the session is idle (completed,
stopped or failed). Exit code 1 if it failed or was stopped.`,
		Example: `  stich watch --server http://127.0.0.1:8080 s-abcdefgh12345678abcd
  stich watch --after-seq 42 --json s-abcdefgh12345678abcd`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("watch takes exactly one SESSION id")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			client := stichv1connect.NewSessionServiceClient(apiHTTP, strings.TrimRight(server, "/"))
			r := newRenderer(cmd.OutOrStdout(), asJSON)
			last, err := follow(cmd.Context(), client, id, afterSeq, r.event)
			r.finish()
			if err != nil {
				return err
			}
			if last == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "no new events")
				return nil
			}
			if decisive(last) {
				return outcome(id, last)
			}
			// The stream ended on an event that does not say how the work
			// ended (e.g. after a rollback): ask for the phase.
			res, err := client.GetSession(cmd.Context(), connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
			if err != nil {
				return err
			}
			switch res.Msg.GetSession().GetPhase() {
			case stichv1.Phase_PHASE_STOPPED:
				return &exitError{code: exitFailure, err: fmt.Errorf("session %s is stopped; resume it to continue", id)}
			case stichv1.Phase_PHASE_FAILED:
				return &exitError{code: exitFailure, err: fmt.Errorf("session %s failed: %s", id, res.Msg.GetSession().GetError())}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	cmd.Flags().Uint64Var(&afterSeq, "after-seq", 0, "deliver events after this sequence number")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print events as NDJSON")
	return cmd
}
