package main

import (
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func newWatchCmd(g *globalFlags) *cobra.Command {
	var (
		servers  []string
		afterSeq uint64
		// reconnectFor bounds the attempts to resume a broken stream.
		reconnectFor time.Duration
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "watch [flags] SESSION",
		Short: "Follow a session's events until its current work ends",
		Long: `Follow a session's events from --after-seq (0 replays the whole log), reconnecting
without gaps or duplicates if the connection drops, until the session is idle (completed,
stopped or failed). Exit code 1 if it failed or was stopped.

With several --server URLs, a stream cut by a node's death resumes on the same or another
node. If it cannot be resumed within a minute, the command prints the exact command that
resumes it from the last event shown.`,
		Example: `  stich watch --server http://127.0.0.1:8080 s-abcdefgh12345678abcd
  stich watch --after-seq 42 --json s-abcdefgh12345678abcd
  stich watch --server http://10.0.0.1:8080,http://10.0.0.2:8080 s-abcdefgh12345678abcd`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("watch takes exactly one SESSION id")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			eps, err := endpoints("--server", servers)
			if err != nil {
				return err
			}
			r := newRenderer(cmd.OutOrStdout(), asJSON)
			last, err := followAny(cmd.Context(), eps, id, afterSeq, reconnectFor, r.event)
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
			res, err := readAny(eps, func(ep endpoint) (*connect.Response[stichv1.GetSessionResponse], error) {
				return ep.client.GetSession(cmd.Context(), connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
			})
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
	cmd.Flags().StringSliceVar(&servers, "server", []string{"http://127.0.0.1:8080"}, "URL of a running stich node; several (comma-separated or repeated) to fail over between them")
	cmd.Flags().DurationVar(&reconnectFor, "reconnect-for", defaultReconnectFor, "how long to keep trying to resume a broken stream on the --server nodes before giving up")
	cmd.Flags().Uint64Var(&afterSeq, "after-seq", 0, "deliver events after this sequence number")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print events as NDJSON")
	return cmd
}
