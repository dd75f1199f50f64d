package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// newAppsCmd is `stich apps` (list) with `rename` and `delete`.
func newAppsCmd() *cobra.Command {
	var (
		server string
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List the apps on a server, most recently updated first",
		Long: `List the apps (sessions) on a running node, most recently updated first: id, phase,
latest version, last update and title. --json prints one app per line (NDJSON).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageError{errors.New("--limit must not be negative")}
			}
			c := sessionClient(server)
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "SESSION\tPHASE\tVERSION\tUPDATED\tTITLE")
			}
			n, tok := 0, ""
			for {
				page := uint32(min(max(limit-n, 0), 200))
				if limit == 0 {
					page = 200
				}
				res, err := c.ListSessions(cmd.Context(), connect.NewRequest(&stichv1.ListSessionsRequest{PageSize: page, PageToken: tok}))
				if err != nil {
					return err
				}
				for _, a := range res.Msg.GetApps() {
					if asJSON {
						b, err := protojson.Marshal(a)
						if err != nil {
							return err
						}
						fmt.Fprintln(out, string(b))
					} else {
						phase := strings.ToLower(strings.TrimPrefix(a.GetPhase().String(), "PHASE_"))
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", a.GetSessionId(), phase, a.GetVersion(),
							a.GetUpdatedAt().AsTime().Local().Format(time.DateTime), a.GetTitle())
					}
					n++
				}
				tok = res.Msg.GetNextPageToken()
				if tok == "" || (limit > 0 && n >= limit) {
					break
				}
			}
			if asJSON {
				return nil
			}
			return tw.Flush()
		},
	}
	cmd.PersistentFlags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one app per line as JSON")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many apps (0: all)")

	rename := &cobra.Command{
		Use:   "rename SESSION TITLE",
		Short: "Set the title an app is listed under",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || strings.TrimSpace(args[1]) == "" {
				return usageError{errors.New("rename takes SESSION and a non-empty TITLE (quote it)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := sessionClient(server).RenameSession(cmd.Context(), connect.NewRequest(&stichv1.RenameSessionRequest{SessionId: args[0], Title: args[1]}))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is now %q\n", args[0], res.Msg.GetApp().GetTitle())
			return nil
		},
	}
	var yes bool
	del := &cobra.Command{
		Use:   "delete SESSION",
		Short: "Delete an app for good: its files, versions and conversation (needs --yes)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("delete takes one SESSION id")}
			}
			if !yes {
				return usageError{fmt.Errorf("deleting %s cannot be undone: add --yes (save a copy first with stich download %s)", args[0], args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := sessionClient(server).DeleteSession(cmd.Context(), connect.NewRequest(&stichv1.DeleteSessionRequest{SessionId: args[0]})); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
	del.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	cmd.AddCommand(rename, del)
	return cmd
}
