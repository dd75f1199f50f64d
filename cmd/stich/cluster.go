package main

import (
	"fmt"
	"net/http"
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
		Short: "Inspect the cluster",
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
			c := stichv1connect.NewAdminServiceClient(http.DefaultClient, strings.TrimRight(server, "/"))
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
				}
				row(m, state)
			}
			for _, m := range res.Msg.GetFailed() {
				row(m, "failed")
			}
			return tw.Flush()
		},
	}
	status.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.AddCommand(status)
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
			c := stichv1connect.NewAdminServiceClient(http.DefaultClient, strings.TrimRight(server, "/"))
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
