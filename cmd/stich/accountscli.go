package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// Account administration from the command line: `stich admin users`,
// `stich admin disable|enable EMAIL` and `stich audit [--all]`. They call
// the AccountService with the key of [apiHTTP] (--token, STICH_TOKEN, or
// the key saved for --server).

// accountCallError explains the refusals a client command gets for the
// caller's key: not an admin, or no valid key at all.
func accountCallError(err error, what string) error {
	switch connect.CodeOf(err) {
	case connect.CodePermissionDenied:
		return &exitError{code: exitFailure, err: fmt.Errorf("%s needs the admin role, and the key in use is not an admin's: pass an admin's key with --token or STICH_TOKEN (on the node's machine the owner's key is used by default)", what)}
	case connect.CodeUnauthenticated:
		return &exitError{code: exitFailure, err: fmt.Errorf("%s needs a key: run `stich login --server URL`, or pass --token or STICH_TOKEN (%s)", what, describe(err))}
	}
	return err
}

// listUsers reads every page of the users matching query.
func listUsers(cmd *cobra.Command, c stichv1connect.AccountServiceClient, query string) ([]*stichv1.UserSummary, error) {
	var out []*stichv1.UserSummary
	token := ""
	for {
		res, err := c.ListUsers(cmd.Context(), connect.NewRequest(&stichv1.ListUsersRequest{PageSize: 200, PageToken: token, Query: query}))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Msg.GetUsers()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

func printUsers(w io.Writer, users []*stichv1.UserSummary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tE-MAIL\tROLE\tDISABLED\tLAST SIGN-IN")
	for _, u := range users {
		last := "never"
		if t := u.GetLastSignInAt(); t != nil {
			last = t.AsTime().Local().Format(time.DateTime)
		}
		disabled := "no"
		if u.GetDisabled() {
			disabled = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.GetUserId(), u.GetEmail(), u.GetRole(), disabled, last)
	}
	tw.Flush()
}

// addAccountAdminCmds adds users, disable and enable to the admin command.
func addAccountAdminCmds(admin *cobra.Command, client func() stichv1connect.AccountServiceClient) {
	var query string
	users := &cobra.Command{
		Use:   "users",
		Short: "List the accounts: id, e-mail, role, whether disabled, last sign-in",
		Long: `List the node's accounts (admin only), oldest first: id, e-mail, role (user or admin),
whether the account is disabled, and when it last signed in. --query keeps the accounts whose
e-mail, name or id contains the text.`,
		Example: `  stich admin users
  stich admin users --query example.com --server https://stich.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			us, err := listUsers(cmd, client(), query)
			if err != nil {
				return accountCallError(err, "`stich admin users`")
			}
			printUsers(cmd.OutOrStdout(), us)
			return nil
		},
	}
	users.Flags().StringVar(&query, "query", "", "keep accounts whose e-mail, name or id contains this")
	setDisabled := func(disabled bool) *cobra.Command {
		verb, long := "enable", `Enable the account of EMAIL again (admin only): it can sign in and its keys work again.`
		if disabled {
			verb, long = "disable", `Disable the account of EMAIL (admin only): it can no longer sign in, its browser sessions
and API keys stop working (within seconds on every node), and its previews close. Its apps
stay; 'stich admin enable EMAIL' undoes it.`
		}
		return &cobra.Command{
			Use:     verb + " EMAIL",
			Short:   strings.ToUpper(verb[:1]) + verb[1:] + " the account of EMAIL",
			Long:    long,
			Example: "  stich admin " + verb + " ann@example.com",
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				email := strings.TrimSpace(args[0])
				if !strings.Contains(email, "@") {
					return usageError{fmt.Errorf("%q is not an e-mail address", email)}
				}
				what := "`stich admin " + verb + "`"
				c := client()
				us, err := listUsers(cmd, c, email)
				if err != nil {
					return accountCallError(err, what)
				}
				var id string
				for _, u := range us {
					if strings.EqualFold(u.GetEmail(), email) {
						id = u.GetUserId()
					}
				}
				if id == "" {
					return &exitError{code: exitFailure, err: fmt.Errorf("no account has the e-mail %s (see `stich admin users`)", email)}
				}
				res, err := c.SetUserDisabled(cmd.Context(), connect.NewRequest(&stichv1.SetUserDisabledRequest{UserId: id, Disabled: disabled}))
				if err != nil {
					return accountCallError(err, what)
				}
				state := "enabled"
				if res.Msg.GetUser().GetDisabled() {
					state = "disabled"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) is now %s\n", res.Msg.GetUser().GetEmail(), id, state)
				return nil
			},
		}
	}
	admin.AddCommand(users, setDisabled(true), setDisabled(false))
}

// newAuditCmd is `stich audit`: the caller's own security events, or with
// --all (admin) every account's.
func newAuditCmd() *cobra.Command {
	var server, user string
	var all bool
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show security events: your own, or with --all every account's (admin)",
		Long: `Show security events, newest first: sign-ins and failures, keys made and revoked, role and
visibility changes, deletions, refused credentials, previews of other users' apps.

Without --all: the events of the account whose key is in use. With --all (admin only): every
account's; --user narrows them to one account (an id or an e-mail).`,
		Example: `  stich audit
  stich audit --all --limit 200
  stich audit --all --user ann@example.com --server https://stich.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 10000 {
				return usageError{fmt.Errorf("--limit %d: want 1 to 10000", limit)}
			}
			if user != "" && !all {
				return usageError{errors.New("--user needs --all (an admin's view of every account)")}
			}
			c := stichv1connect.NewAccountServiceClient(apiHTTP, strings.TrimRight(server, "/"))
			what := "`stich audit`"
			if all {
				what = "`stich audit --all`"
			}
			var events []*stichv1.AuditEvent
			token := ""
			for len(events) < limit {
				size := uint32(min(200, limit-len(events)))
				var res *connect.Response[stichv1.ListAuditEventsResponse]
				var err error
				if all {
					res, err = c.ListAuditEvents(cmd.Context(), connect.NewRequest(&stichv1.ListAuditEventsRequest{PageSize: size, PageToken: token, User: user}))
				} else {
					res, err = c.ListMyAuditEvents(cmd.Context(), connect.NewRequest(&stichv1.ListMyAuditEventsRequest{PageSize: size, PageToken: token}))
				}
				if err != nil {
					return accountCallError(err, what)
				}
				events = append(events, res.Msg.GetEvents()...)
				if token = res.Msg.GetNextPageToken(); token == "" {
					break
				}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tKIND\tACCOUNT\tCLIENT\tMETHOD\tDETAIL")
			for _, e := range events {
				who := e.GetEmail()
				if who == "" {
					who = e.GetUserId()
				}
				if e.GetActorId() != "" {
					who += " (by " + e.GetActorId() + ")"
				}
				kind := e.GetKind()
				if e.GetCount() > 1 {
					kind += fmt.Sprintf(" ×%d", e.GetCount())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.GetAt().AsTime().Local().Format(time.DateTime), kind, dash(who), dash(e.GetClient()), dash(e.GetMethod()), e.GetDetail())
			}
			tw.Flush()
			if len(events) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no events")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a stich node")
	cmd.Flags().BoolVar(&all, "all", false, "every account's events (admin only)")
	cmd.Flags().StringVar(&user, "user", "", "with --all: one account's events (an id or an e-mail)")
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many events")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
