package main

import (
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// newAdminCmd groups the account administration of a --auth multi node.
// They need an admin's API key: on the node's machine, the owner key the
// node saved; elsewhere, --token of an admin.
func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer accounts: list, disable and enable them, grant the admin role, make sign-up invites",
	}
	var server string
	client := func() stichv1connect.AccountServiceClient {
		return stichv1connect.NewAccountServiceClient(apiHTTP, strings.TrimRight(server, "/"))
	}
	var role string
	grant := &cobra.Command{
		Use:   "grant EMAIL",
		Short: "Give the account of EMAIL a role (admin by default)",
		Long: `Give the account of EMAIL a role: admin (may steer the cluster, make invites, grant roles)
or user. The node's owner (whose key the node saves on its machine) is always an admin: on a
fresh --auth multi node, sign up, then grant yourself the role with this command.`,
		Example: `  stich admin grant ann@example.com
  stich admin grant ann@example.com --role user`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != "admin" && role != "user" {
				return usageError{fmt.Errorf("--role %q: want admin or user", role)}
			}
			res, err := client().SetUserRole(cmd.Context(), connect.NewRequest(&stichv1.SetUserRoleRequest{Email: args[0], Role: role}))
			if err != nil {
				return err
			}
			a := res.Msg.GetAccount()
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) is now %s\n", a.GetEmail(), a.GetUserId(), a.GetRole())
			return nil
		},
	}
	grant.Flags().StringVar(&role, "role", "admin", "role to give: admin or user")
	var validFor time.Duration
	invite := &cobra.Command{
		Use:   "invite",
		Short: "Make a single-use sign-up invite (for --signup invite) and print its link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if validFor < time.Hour || validFor > 365*24*time.Hour {
				return usageError{fmt.Errorf("--valid-for %s: want 1h to 8760h", validFor)}
			}
			res, err := client().CreateInvite(cmd.Context(), connect.NewRequest(&stichv1.CreateInviteRequest{ValidForHours: uint32(validFor / time.Hour)}))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s/signup?invite=%s\n(valid until %s, once)\n", strings.TrimRight(server, "/"), res.Msg.GetToken(),
				res.Msg.GetExpiresAt().AsTime().Format(time.RFC3339))
			return nil
		},
	}
	invite.Flags().DurationVar(&validFor, "valid-for", 7*24*time.Hour, "how long the invite can be used")
	cmd.PersistentFlags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a stich node")
	cmd.AddCommand(grant, invite)
	addAccountAdminCmds(cmd, client)
	return cmd
}
