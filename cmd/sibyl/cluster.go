package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sibylhq/sibyl/node"
	"github.com/spf13/cobra"
)

func init() {
	clusterCmd := &cobra.Command{Use: "cluster", Short: "Inspect and operate a Sibyl cluster"}
	var url, token string
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show nodes, health, shards, leaders, the placement version and moves in progress",
		Example: `  SIBYL_ADMIN_TOKEN=... sibyl cluster status --url http://node1:8080
  sibyl cluster status --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := adminTokenFor(cmd, token)
			if err != nil {
				return err
			}
			var st node.ClusterStatus
			raw, err := clusterCall(url, tok, "GET", "status", &st)
			if err != nil {
				return err
			}
			if asJSON {
				fmt.Println(string(raw))
				return nil
			}
			printClusterStatus(os.Stdout, st)
			return nil
		},
	}
	var wait time.Duration
	leave := &cobra.Command{
		Use:   "leave",
		Short: "Drain the node at --url: its replicas move to other nodes; then it can be stopped",
		Example: `  sibyl cluster leave --url http://node3:8080          # waits until drained
  sibyl cluster leave --url http://node3:8080 --wait 0   # only start the drain`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := adminTokenFor(cmd, token)
			if err != nil {
				return err
			}
			var res struct {
				Node string `json:"node"`
			}
			if _, err := clusterCall(url, tok, "POST", "leave", &res); err != nil {
				return err
			}
			fmt.Printf("node %s is draining\n", res.Node)
			if wait <= 0 {
				return nil
			}
			deadline := time.Now().Add(wait)
			for {
				var st node.ClusterStatus
				if _, err := clusterCall(url, tok, "GET", "status", &st); err == nil {
					left := -1
					for _, n := range st.Nodes {
						if n.ID == res.Node {
							left = n.Replicas
						}
					}
					if left == 0 {
						fmt.Printf("node %s holds no replica any more: stop it now (placement v%d)\n", res.Node, st.PlacementVersion)
						return nil
					}
					fmt.Printf("  %d replicas left on %s\n", left, res.Node)
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("node %s not drained after %v; `sibyl cluster status` shows the moves", res.Node, wait)
				}
				time.Sleep(2 * time.Second)
			}
		},
	}
	for _, c := range []*cobra.Command{status, leave} {
		c.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "base URL of a Sibyl node (for leave: the node to drain)")
		c.Flags().StringVar(&token, "admin-token", "", "cluster admin token (default: $SIBYL_ADMIN_TOKEN, else ./data/admin.token)")
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	leave.Flags().DurationVar(&wait, "wait", 30*time.Minute, "how long to wait for the drain (0: do not wait)")
	clusterCmd.AddCommand(status, leave)
	root.AddCommand(clusterCmd)
}

// clusterCall calls /v2/cluster/<op> and decodes the answer into out.
func clusterCall(base, token, method, op string, out any) ([]byte, error) {
	req, err := http.NewRequest(method, strings.TrimSuffix(base, "/")+"/v2/cluster/"+op, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cluster %s: HTTP %d: %s", op, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return raw, json.Unmarshal(raw, out)
}

func printClusterStatus(w io.Writer, st node.ClusterStatus) {
	fmt.Fprintf(w, "placement v%d, meta leader %s (answered by %s)\n\n", st.PlacementVersion, st.MetaLeader, st.Node)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tHTTP\tRAFT\tREPLICAS\tLEADS")
	for _, n := range st.Nodes {
		state := n.State
		if n.Draining {
			state += " (draining)"
		}
		leads := fmt.Sprint(n.Leads)
		if n.Leads < 0 {
			leads = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", n.ID, state, n.HTTPAddr, n.RaftAddr, n.Replicas, leads)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tLEADER\tREPLICAS")
	for _, s := range st.Shards {
		leader := s.Leader
		if leader == "" {
			leader = "NONE"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Shard, leader, strings.Join(s.Replicas, ","))
	}
	tw.Flush()
	if m := st.Moves; m != nil {
		fmt.Fprintf(w, "\nmoves: %d pending steps, catching up %v, without leader %v, unhealthy nodes %v\n", len(m.Steps), m.Waiting, m.Stalled, m.Unhealthy)
		if m.LeaderLimit > 0 {
			ids := slices.Sorted(maps.Keys(m.Leaders))
			var parts []string
			for _, id := range ids {
				parts = append(parts, fmt.Sprintf("%s %d", id, m.Leaders[id]))
			}
			fmt.Fprintf(w, "leaders per healthy node: %s (balanced while none leads more than %d)\n", strings.Join(parts, ", "), m.LeaderLimit)
		}
		for _, s := range m.Steps {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}
