package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

func sessionClient(server string) stichv1connect.SessionServiceClient {
	return stichv1connect.NewSessionServiceClient(apiHTTP, strings.TrimRight(server, "/"))
}

func parseVersion(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "v"), 10, 32)
	if err != nil || n == 0 {
		return 0, usageError{fmt.Errorf("version %q: want a version number such as 1 (see stich versions)", s)}
	}
	return uint32(n), nil
}

func newVersionsCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "versions SESSION",
		Short: "List a session's versions",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("versions takes one SESSION id")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := sessionClient(server).ListVersions(cmd.Context(), connect.NewRequest(&stichv1.ListVersionsRequest{SessionId: args[0]}))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tCREATED\tFILES\tBYTES\tREASON")
			for _, v := range res.Msg.GetVersions() {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\n", v.GetNumber(), v.GetCreatedAt().AsTime().Local().Format(time.DateTime), v.GetFiles(), v.GetBytes(), v.GetReason())
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	return cmd
}

func newDiffCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "diff SESSION FROM TO",
		Short: "Show what changed between two versions, as unified diffs",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 3 {
				return usageError{errors.New("diff takes SESSION FROM TO")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseVersion(args[1])
			if err != nil {
				return err
			}
			to, err := parseVersion(args[2])
			if err != nil {
				return err
			}
			res, err := sessionClient(server).DiffVersions(cmd.Context(), connect.NewRequest(&stichv1.DiffVersionsRequest{SessionId: args[0], From: from, To: to}))
			if err != nil {
				return err
			}
			for _, f := range res.Msg.GetFiles() {
				fmt.Fprint(cmd.OutOrStdout(), f.GetUnified())
				if f.GetTruncated() {
					fmt.Fprintf(cmd.OutOrStdout(), "... (diff of %s cut at 256 KiB)\n", f.GetPath())
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	return cmd
}

func newRollbackCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "rollback SESSION VERSION",
		Short: "Restore the files of an earlier version (as a new version)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{errors.New("rollback takes SESSION VERSION")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := parseVersion(args[1])
			if err != nil {
				return err
			}
			res, err := sessionClient(server).Rollback(cmd.Context(), connect.NewRequest(&stichv1.RollbackRequest{SessionId: args[0], Version: v}))
			if err != nil {
				return err
			}
			nv := res.Msg.GetVersion()
			fmt.Fprintf(cmd.OutOrStdout(), "version %d: %s (%d files)\n", nv.GetNumber(), nv.GetReason(), nv.GetFiles())
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	return cmd
}

// sendAttempts bounds the tries of one message when its node answers
// Unavailable (its storage replicas were unreachable, or it is moving).
const sendAttempts = 3

// sendMessage sends a chat message with a random idempotency key and
// retries it with the same key while the node answers Unavailable: the
// session records it once however many tries reach it.
func sendMessage(ctx context.Context, c stichv1connect.SessionServiceClient, req *stichv1.SendMessageRequest) (*connect.Response[stichv1.SendMessageResponse], error) {
	var key [16]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("idempotency key: %w", err)
	}
	req.IdempotencyKey = hex.EncodeToString(key[:])
	for attempt := 1; ; attempt++ {
		res, err := c.SendMessage(ctx, connect.NewRequest(req))
		if err == nil || connect.CodeOf(err) != connect.CodeUnavailable || attempt == sendAttempts {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
}

func newRefineCmd() *cobra.Command {
	var (
		server string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "refine SESSION MESSAGE",
		Short:   "Ask for a change to an app and follow it until done",
		Example: `  stich refine s-abcdefgh12345678abcd.local "also track a notes field"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || strings.TrimSpace(args[1]) == "" {
				return usageError{errors.New("refine takes SESSION and a non-empty MESSAGE (quote it)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			eps, err := endpoints("--server", []string{server})
			if err != nil {
				return err
			}
			res, err := sendMessage(cmd.Context(), eps[0].client, &stichv1.SendMessageRequest{SessionId: args[0], Text: args[1]})
			if err != nil {
				return err
			}
			r := newRenderer(cmd.OutOrStdout(), asJSON)
			last, err := followAny(cmd.Context(), eps, args[0], res.Msg.GetSeq()-1, defaultReconnectFor, r.event)
			r.finish()
			if err != nil {
				return err
			}
			return outcome(args[0], last)
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print events as NDJSON")
	return cmd
}
