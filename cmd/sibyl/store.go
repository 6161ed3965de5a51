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
			fmt.Printf("store created\n  id:          %s\n  name:        %s\n  public key:  %s  (queries and tracking; safe in a browser)\n  private key: %s  (data writes and customer data; keep secret)\n",
				st["id"], st["name"], st["public_key"], st["private_key"])
			return nil
		},
	}
	create.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "base URL of any Sibyl node")
	create.Flags().StringVar(&token, "admin-token", "", "cluster admin token (default: $SIBYL_ADMIN_TOKEN, else ./data/admin.token)")
	create.Flags().StringVar(&name, "name", "", "the store's name")
	create.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	storeCmd.AddCommand(create)
	root.AddCommand(storeCmd)
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
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(baseURL, "/")+"/v2/stores", bytes.NewReader(body))
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
