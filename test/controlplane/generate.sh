#!/usr/bin/env bash
# Writes go.mod/go.sum (and coredns/go.mod, coredns/go.sum) for the pinned versions in versions.env.
#
# k8s.io/kubernetes replaces every k8s.io/* staging module with a local path at v0.0.0, so it
# cannot be required as is. The staging modules are published as v0.<minor>.<patch>; this script
# reads the staging list from that exact Kubernetes release's go.mod (never hard-coded) and
# replaces each with its published twin. etcd's server is taken at the version Kubernetes itself
# pins (its go.mod lists go.etcd.io/etcd/server/v3), so client and server match.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=versions.env
source versions.env

k8s_mod=$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[[ -f "$k8s_mod" ]] || { echo "generate: cannot read go.mod of k8s.io/kubernetes@${KUBERNETES_VERSION}" >&2; exit 1; }

staging_version="v0.${KUBERNETES_VERSION#v1.}"
mapfile -t staging < <(sed -n 's#^\t\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$k8s_mod")
((${#staging[@]} > 0)) || { echo "generate: no staging replaces found in $k8s_mod" >&2; exit 1; }
etcd_version=$(sed -n 's#^\tgo.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' "$k8s_mod")
[[ -n "$etcd_version" ]] || { echo "generate: no etcd server version in $k8s_mod" >&2; exit 1; }

# new_module NAME REQUIREMENT...: a fresh go.mod in the current directory requiring these, with
# every k8s.io staging module replaced by its published twin, then tidied.
new_module() {
  local name=$1
  shift
  rm -f go.mod go.sum
  go mod init "$name" >/dev/null 2>&1
  go mod edit -go=1.24.0
  for requirement in "$@"; do
    go mod edit -require="$requirement"
  done
  for module in "${staging[@]}"; do
    go mod edit -replace="${module}=${module}@${staging_version}"
  done
  go mod tidy
}

# CoreDNS: its own module (its etcd client cannot share a build with the apiserver's etcd server),
# with the same k8s.io twins, so its Kubernetes client is the cluster's version. Written first: the
# main module's tidy must see coredns/go.mod, or it would take coredns/ as its own package.
(cd coredns && new_module kinfer.dev/test/controlplane/coredns "github.com/coredns/coredns@${COREDNS_VERSION}")
echo "generate: coredns ${COREDNS_VERSION}"

new_module kinfer.dev/test/controlplane "k8s.io/kubernetes@${KUBERNETES_VERSION}" \
  "go.etcd.io/etcd/server/v3@${etcd_version}" "sigs.k8s.io/kwok@${KWOK_VERSION}"
echo "generate: kubernetes ${KUBERNETES_VERSION}, ${#staging[@]} staging modules at ${staging_version}, etcd ${etcd_version}, kwok ${KWOK_VERSION}"
