package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster, forget failed members, make certificates",
	}
	var (
		server string
		asJSON bool
	)
	status := &cobra.Command{
		Use:   "status",
		Short: "List members, regions, grain counts and health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := stichv1connect.NewAdminServiceClient(apiHTTP, strings.TrimRight(server, "/"))
			res, err := c.GetClusterStatus(cmd.Context(), connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(res.Msg)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tREGION\tSTATE\tGRAINS\tHTTP\tVERSION")
			row := func(m *stichv1.ClusterMember, state string) {
				var grains []string
				for k, v := range m.GetGrains() {
					grains = append(grains, fmt.Sprintf("%s=%d", k, v))
				}
				sort.Strings(grains)
				name := m.GetName()
				if name == res.Msg.GetNode() {
					name += " (this)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, m.GetRegion(), state, strings.Join(grains, " "), m.GetHttpAddr(), m.GetVersion())
			}
			for _, m := range res.Msg.GetMembers() {
				state := "healthy"
				switch {
				case m.GetLeaving():
					state = "leaving"
				case !m.GetHealthy():
					state = "unreachable: " + m.GetError()
				case !m.GetRepaired():
					state = "repairing (takes part in no majority yet)"
				}
				row(m, state)
			}
			for _, m := range res.Msg.GetFailed() {
				row(m, "failed")
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(res.Msg.GetFailed()) > 0 {
				fmt.Fprintln(out, "\nFailed members keep their place in the replica sets (their grains have one copy fewer)\nuntil they return; `stich cluster forget NODE` takes one that will not return out for good.")
			}
			return nil
		},
	}
	status.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.AddCommand(status, newForgetCmd(), newCertsCmd())
	return cmd
}

// forgetWarning is what `stich cluster forget` prints when --yes is
// missing.
const forgetWarning = `Forgetting %[1]s takes it out of placement and of every grain's replica set, on every
live member. Until anti-entropy has copied its grains to their new replica sets (seconds to
minutes, with the amount of data), each grain whose set held %[1]s has one copy fewer, and a
member that fails in that window can take acknowledged writes with it.

Forget a node only when it is gone for good (its machine or disk is lost). If it comes back
later, it rejoins as a new member and its old copies are replaced by newer ones. Never forget
members on both sides of a network partition: each side could then accept writes alone.

Run again with --yes to forget %[1]s.
`

func newForgetCmd() *cobra.Command {
	var (
		server string
		yes    bool
	)
	cmd := &cobra.Command{
		Use:   "forget NODE",
		Short: "Take a failed node that will not return out of the cluster for good",
		Long: `Ask the node at --server (it must run on this machine) to forget NODE, a member that failed
(left without handing its grains off): every live member drops it from placement and from the
grains' replica sets, and anti-entropy copies its grains to their new replica sets, so every grain
is back to its full number of copies. Until then those grains have one copy fewer, which is why
--yes is required. NODE must be listed as failed by 'stich cluster status'.`,
		Example: `  stich cluster status --server http://127.0.0.1:8091
  stich cluster forget n3 --server http://127.0.0.1:8091 --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !yes {
				fmt.Fprintf(cmd.ErrOrStderr(), forgetWarning, name)
				return &exitError{code: exitUsage, err: fmt.Errorf("not forgetting %s without --yes", name)}
			}
			c := stichv1connect.NewAdminServiceClient(apiHTTP, strings.TrimRight(server, "/"))
			res, err := c.ForgetMember(cmd.Context(), connect.NewRequest(&stichv1.ForgetMemberRequest{Name: name}))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			confirmed := "no other member"
			if cs := res.Msg.GetConfirmed(); len(cs) > 0 {
				confirmed = strings.Join(cs, ", ")
			}
			fmt.Fprintf(out, "%s forgot %s; confirmed by %s\n", res.Msg.GetNode(), res.Msg.GetName(), confirmed)
			var pending []string
			for m := range res.Msg.GetUnconfirmed() {
				pending = append(pending, m)
			}
			sort.Strings(pending)
			for _, m := range pending {
				fmt.Fprintf(out, "  %s did not confirm (it learns it by gossip): %s\n", m, res.Msg.GetUnconfirmed()[m])
			}
			fmt.Fprintf(out, "Anti-entropy is copying the grains %s held to their new replica sets.\n", res.Msg.GetName())
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a live member (on this machine)")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: the node's grains have one copy fewer until repair finishes")
	return cmd
}

func newLeaveCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "leave",
		Short: "Make a node hand its grains off, leave the cluster and exit",
		Long: `Ask the node at --server (it must run on this machine) to hand every grain it stores to
the grain's next owner, leave the cluster and exit — what SIGTERM does. Use it before taking
a node out of service.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := stichv1connect.NewAdminServiceClient(apiHTTP, strings.TrimRight(server, "/"))
			res, err := c.Leave(cmd.Context(), connect.NewRequest(&stichv1.LeaveRequest{}))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s is handing off its grains and will exit\n", res.Msg.GetNode())
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of the node to take out (on this machine)")
	return cmd
}
