package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/cluster/tlsconf"
	"github.com/spf13/cobra"
)

// `sibyl tls`: the cluster's credentials, as `consul tls` makes Consul's.
// The CA directory (with ca-key.pem) belongs on the operator's machine,
// not on the nodes; each node gets the directory `cert create` writes.
func init() {
	tlsCmd := &cobra.Command{
		Use:   "tls",
		Short: "Create the cluster CA, node certificates and gossip keys (docs/operations.md#security)",
	}

	var caOut string
	var caValidity time.Duration
	caCreate := &cobra.Command{
		Use:   "create",
		Short: "Create a cluster CA (ca.pem, ca-key.pem) in --out",
		Example: `  sibyl tls ca create --out ./tls/ca
  sibyl tls cert create --ca ./tls/ca --node n1 --ip 10.0.0.11 --out ./tls/n1`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := tlsconf.CreateCA(caOut, caValidity); err != nil {
				return err
			}
			fmt.Printf("Created the cluster CA in %s (%s, %s). Keep %s off the nodes.\n",
				caOut, tlsconf.CAFile, tlsconf.CAKeyFile, filepath.Join(caOut, tlsconf.CAKeyFile))
			return nil
		},
	}
	caCreate.Flags().StringVar(&caOut, "out", "", "directory to create the CA in (required)")
	caCreate.Flags().DurationVar(&caValidity, "validity", tlsconf.DefaultCAValidity, "how long the CA is valid")
	caCreate.MarkFlagRequired("out")
	ca := &cobra.Command{Use: "ca", Short: "Manage the cluster CA"}
	ca.AddCommand(caCreate)

	var caDir, node, out string
	var ips []net.IP
	var dns []string
	var certValidity time.Duration
	certCreate := &cobra.Command{
		Use:   "create",
		Short: "Sign a node certificate with the cluster CA: writes node.pem, node-key.pem and ca.pem to --out (what serve --tls-dir reads)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if out == "" {
				out = node
			}
			if err := tlsconf.CreateNodeCert(caDir, tlsconf.NodeCert{Node: node, IPs: ips, DNS: dns, Validity: certValidity}, out); err != nil {
				return err
			}
			fmt.Printf("Created the certificate of node %s in %s; start it with --tls-dir %s\n", node, out, out)
			return nil
		},
	}
	cf := certCreate.Flags()
	cf.StringVar(&caDir, "ca", "", "the CA directory (with ca-key.pem; required)")
	cf.StringVar(&node, "node", "", "the node's name (its --node-id; required)")
	cf.IPSliceVar(&ips, "ip", nil, "IP addresses to name in the certificate, comma-separated (optional: peers check the CA, not the name)")
	cf.StringSliceVar(&dns, "dns", nil, "DNS names to name in the certificate, comma-separated (optional)")
	cf.StringVar(&out, "out", "", "directory to write to (default: the node's name)")
	cf.DurationVar(&certValidity, "validity", tlsconf.DefaultCertValidity, "how long the certificate is valid (at most as long as the CA)")
	certCreate.MarkFlagRequired("ca")
	certCreate.MarkFlagRequired("node")
	cert := &cobra.Command{Use: "cert", Short: "Manage node certificates"}
	cert.AddCommand(certCreate)

	gossipKey := &cobra.Command{
		Use:   "gossip-key",
		Short: "Print a new gossip encryption key (base64 of 32 random bytes) for --gossip-key / SIBYL_GOSSIP_KEY",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := membership.NewKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout, k)
			return nil
		},
	}
	tlsCmd.AddCommand(ca, cert, gossipKey)
	root.AddCommand(tlsCmd)
}
