package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

// etcdmain.Main exits the process itself on error and returns only after a clean shutdown.
func runEtcd() int {
	etcdmain.Main(os.Args)
	return 0
}
