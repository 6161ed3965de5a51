package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	storeCmd := &cobra.Command{Use: "store", Short: "Manage stores (tenants)"}
	var url, token, name string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a store and print its id, public key and private key",
		Example: `  sibyl store create --name "My Shop"
  SIBYL_ADMIN_TOKEN=... sibyl store create --name shop --url http://node:8080 --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envOverrides(cmd); err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("--name is required")
			}
			tok, err := resolveAdminToken(token)
			if err != nil {
				return err
			}
			st, err := createStore(url, tok, name)
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.Marshal(st)
				fmt.Println(string(b))
				return nil
			}
			fmt.Printf("store created\n  id:          %s\n  name:        %s\n  public key:  %s  (queries and tracking; safe in a browser)\n  private key: %s  (data writes and customer data; keep secret)\n"+
				"The private key is shown this once: Sibyl keeps only its hash (sibyl store rotate-keys issues new keys).\n",
				st["id"], st["name"], st["public_key"], st["private_key"])
			return nil
		},
	}
	create.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "base URL of any Sibyl node")
	create.Flags().StringVar(&token, "admin-token", "", "cluster admin token (default: $SIBYL_ADMIN_TOKEN, else ./data/admin.token)")
	create.Flags().StringVar(&name, "name", "", "the store's name")
	create.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	storeCmd.AddCommand(create, rotateKeysCmd(), limitsCmd())
	root.AddCommand(storeCmd)
}

// rotateKeysCmd is `sibyl store rotate-keys STORE`.
func rotateKeysCmd() *cobra.Command {
	var url, token string
	var overlap time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate-keys STORE",
		Short: "Issue new public and private keys for a store; the old ones keep working for --overlap",
		Long: `Issue new public and private keys for a store. The old keys keep working
until the overlap ends (default 24h), time to deploy the new ones; --overlap 0
ends them at once (a leaked key). The new private key is printed this once.`,
		Example: `  sibyl store rotate-keys st_0123456789abcdef --overlap 2h
  sibyl store rotate-keys st_0123456789abcdef --overlap 0   # the old keys stop now`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := adminTokenFor(cmd, token)
			if err != nil {
				return err
			}
			out, err := adminPost(url, tok, "/v2/stores/"+args[0]+"/rotate-keys", map[string]any{"overlap": overlap.String()})
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.Marshal(out)
				fmt.Println(string(b))
				return nil
			}
			fmt.Printf("keys rotated\n  id:          %s\n  public key:  %s\n  private key: %s  (shown this once)\n  old keys work until %s\n",
				out["id"], out["public_key"], out["private_key"], out["old_keys_valid_until"])
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "base URL of any Sibyl node")
	cmd.Flags().StringVar(&token, "admin-token", "", "cluster admin token (default: $SIBYL_ADMIN_TOKEN, else ./data/admin.token)")
	cmd.Flags().DurationVar(&overlap, "overlap", 24*time.Hour, "how long the old keys keep working (0: they stop now; at most 2160h)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	return cmd
}

// limitsCmd is `sibyl store limits STORE`.
func limitsCmd() *cobra.Command {
	var url, token string
	var rate float64
	var burst int
	var clear bool
	cmd := &cobra.Command{
		Use:   "limits STORE --rate R [--burst B] | --clear",
		Short: "Set a store's public-key request rate limit (per node), or go back to the node default",
		Example: `  sibyl store limits st_0123456789abcdef --rate 200 --burst 400
  sibyl store limits st_0123456789abcdef --rate 0      # unlimited
  sibyl store limits st_0123456789abcdef --clear       # the nodes' --rate-per-store`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envOverrides(cmd); err != nil {
				return err
			}
			if !clear && !cmd.Flags().Changed("rate") {
				return fmt.Errorf("give --rate (and --burst), or --clear")
			}
			tok, err := resolveAdminToken(token)
			if err != nil {
				return err
			}
			body := map[string]any{"clear": clear}
			if !clear {
				body["rate"] = rate
				if burst > 0 {
					body["burst"] = burst
				}
			}
			out, err := adminPost(url, tok, "/v2/stores/"+args[0]+"/limits", body)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(out["limits"])
			fmt.Printf("store %s: limits %s\n", out["id"], b)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "base URL of any Sibyl node")
	cmd.Flags().StringVar(&token, "admin-token", "", "cluster admin token (default: $SIBYL_ADMIN_TOKEN, else ./data/admin.token)")
	cmd.Flags().Float64Var(&rate, "rate", 0, "public-key requests per second on each node (0: unlimited)")
	cmd.Flags().IntVar(&burst, "burst", 0, "bucket size (default: twice the rate)")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the override: the nodes' --rate-per-store applies")
	return cmd
}

// adminTokenFor is the start of every admin subcommand: flags from the
// environment, then the token.
func adminTokenFor(cmd *cobra.Command, flag string) (string, error) {
	if err := envOverrides(cmd); err != nil {
		return "", err
	}
	return resolveAdminToken(flag)
}

// resolveAdminToken finds the admin token: the flag, the environment, or
// the token file a local node wrote at first start.
func resolveAdminToken(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if t := os.Getenv("SIBYL_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	dir := os.Getenv("SIBYL_DATA_DIR")
	if dir == "" {
		dir = "./data"
	}
	b, err := os.ReadFile(dir + "/admin.token")
	if err != nil {
		return "", fmt.Errorf("no admin token: pass --admin-token, set SIBYL_ADMIN_TOKEN, or run next to the node's data dir (%s/admin.token: %v)", dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// createStore calls POST /v2/stores and returns the answer's fields.
func createStore(baseURL, token, name string) (map[string]any, error) {
	return adminPost(baseURL, token, "/v2/stores", map[string]any{"name": name})
}

// adminPost POSTs a JSON body with the admin token and returns the
// answer's fields.
func adminPost(baseURL, token, path string, in map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(baseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("unexpected answer (HTTP %d): %s", resp.StatusCode, b)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %v", resp.StatusCode, out["message"])
	}
	delete(out, "status")
	return out, nil
}
