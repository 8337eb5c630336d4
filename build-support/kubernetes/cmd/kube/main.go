// kube: Kubernetes' server components and kubectl in one binary, chosen by the name it is
// called by (a symlink kube-apiserver -> kube) or by its first argument
// (`kube kube-apiserver --help`). One binary links the code they share once: one link
// step instead of six and a sixth of the disk.
//
// Each entry is what the component's own cmd/<name>/main.go of Kubernetes v1.34.4 does.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // CronJob time zones (kube-apiserver, kube-controller-manager)

	"github.com/spf13/cobra"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl: exec and OIDC credential plugins
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var servers = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kube-proxy":              proxy.NewProxyCommand,
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
}

func runKubectl(args []string) int {
	logs.GlogSetter(kubectl.GetLogVerbosity(args)) // nolint:errcheck
	command := kubectl.NewDefaultKubectlCommand()
	command.SetArgs(args[1:])
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
	return 0
}

func names() string {
	all := []string{"kubectl"}
	for name := range servers {
		all = append(all, name)
	}
	sort.Strings(all)
	return strings.Join(all, ", ")
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args
	if _, known := servers[name]; !known && name != "kubectl" {
		if len(os.Args) < 2 {
			fmt.Fprintf(os.Stderr, "usage: %s <component> [flags]; components: %s\n", name, names())
			os.Exit(2)
		}
		name, args = os.Args[1], os.Args[1:]
	}
	if name == "kubectl" {
		os.Exit(runKubectl(args))
	}
	newCommand, known := servers[name]
	if !known {
		fmt.Fprintf(os.Stderr, "unknown component %q; components: %s\n", name, names())
		os.Exit(2)
	}
	command := newCommand()
	command.SetArgs(args[1:])
	os.Exit(cli.Run(command))
}
