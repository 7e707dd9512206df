// Command kcp is the test cluster in one multi-call binary: kube-apiserver,
// kube-controller-manager, kube-scheduler, etcd, kwok and the real node's kubelet and kube-proxy
// share most of their dependencies, so one link step and one file on disk replace seven.
//
// It dispatches on its first argument (`kcp kube-apiserver --flags...`) or, when started through a
// symlink named after a component, on the program name (`kube-apiserver --flags...`), which is the
// layout setup-envtest and KUBEBUILDER_ASSETS use.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

var components = map[string]func() int{
	"kube-apiserver":          runAPIServer,
	"kube-controller-manager": runControllerManager,
	"kube-scheduler":          runScheduler,
	"etcd":                    runEtcd,
	"kwok":                    runKwok,
	"kubelet":                 runKubelet,
	"kube-proxy":              runKubeProxy,
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if _, ok := components[name]; !ok {
		if len(args) == 0 {
			usage()
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	run, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kcp: unknown component %q\n", name)
		usage()
		os.Exit(2)
	}
	// Every component reads os.Args itself (cobra, pflag, etcd's flag set); make it look as if the
	// component had been started on its own.
	os.Args = append([]string{name}, args...)
	if os.Getenv("KCP_EXIT_WITH_PARENT") == "1" {
		go exitWithParent()
	}
	os.Exit(run())
}

func usage() {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: kcp <%s> [flags...]\n", strings.Join(names, "|"))
}

// exitWithParent stops this component when the process that started it goes away, even if that
// process was killed with SIGKILL and had no chance to clean up: the test harness runs each
// component in its own process group, so nothing else would ever stop an orphaned etcd. SIGTERM
// lets the component shut down as it would on Ctrl-C; SIGKILL follows if that takes too long.
func exitWithParent() {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			time.Sleep(10 * time.Second)
			os.Exit(1)
		}
	}
}
