// Command coredns is the test cluster's DNS server: CoreDNS with only the plugins a cluster DNS
// needs to answer for Services and Pods (kubernetes) and to be probed (health, ready), plus
// errors and log. There is no forward plugin: a name outside cluster.local gets SERVFAIL/NXDOMAIN,
// so nothing a pod resolves ever leaves the machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order of plugin.cfg upstream (the order a query walks the chain), restricted to ours.
var directives = []string{"ready", "health", "errors", "log", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
