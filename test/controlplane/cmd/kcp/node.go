package main

import (
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"

	"k8s.io/component-base/cli"
)

// The real node's components, linked like the control plane's (hyperkube did the same): most of
// their code is shared with the apiserver and controller manager, so they cost little extra.
func runKubelet() int   { return cli.Run(kubelet.NewKubeletCommand()) }
func runKubeProxy() int { return cli.Run(proxy.NewProxyCommand()) }
