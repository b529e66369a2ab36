#!/bin/bash
# Usage: swap_static_pods.sh KUBELET_DIR MANIFEST...
# Replaces static pod manifests (e.g. /etc/kubernetes/manifests/kube-apiserver.yaml) with the texts staged beside
# the kubelet's directory (/etc/kubernetes/kube-apiserver.next.yaml), each pod's container named like its manifest
# (kubeadm's control-plane pods). In two steps, all pods at once so that their restarts overlap: the old manifests
# leave the kubelet's directory, and the new ones come in (by rename: the kubelet never reads a half-written file)
# once the kubelet has forgotten the old pods: their folders below KUBELET_DIR/pods are gone (found by the container's
# folder, so a pod whose container keeps crashing counts too), so are their cgroups (pod<uid>), and one second has
# passed. The kubelet starts a static pod only once the worker of its predecessor of the same name has ended; a new
# pod that comes sooner waits out the pod workers' back-off, 10-15 s: kube-apiserver is down about 19 s instead of 8,
# and every controller's watch backs off for longer after it. The kubelet's housekeeping removes the folder, and may
# remove the cgroup as an orphan, up to 0.8 s before that worker ends: waiting for the folder alone met the back-off
# in 2 restarts of 12, for both 5 times in one run of proofs, for both and a second in none of 27
# (docs/benchmarks.md).
# Gives up waiting after 60 s (the kubelet stopped, say) and swaps anyway.
set -u
pods="$1/pods"
shift
manifests=("$@")

staged() { # MANIFEST WHICH: the file beside the kubelet's directory, WHICH being next or old
  echo "$(dirname "$(dirname "$1")")/$(basename "$1" .yaml).$2.yaml"
}

old_uids=()
for manifest in "${manifests[@]}"; do
  for folder in "$pods"/*/containers/"$(basename "$manifest" .yaml)"; do
    [ -e "$folder" ] && old_uids+=("$(basename "${folder%/containers/*}")")
  done
done

forgotten() {
  local manifest uid
  for manifest in "${manifests[@]}"; do
    ! compgen -G "$pods/*/containers/$(basename "$manifest" .yaml)" > /dev/null || return 1
  done
  for uid in "${old_uids[@]}"; do
    [ -z "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "*pod$uid*" -print -quit)" ] || return 1
  done
}

swap_in() {
  local manifest
  for manifest in "${manifests[@]}"; do
    mv "$(staged "$manifest" next)" "$manifest" && rm -f "$(staged "$manifest" old)"
  done
}

for manifest in "${manifests[@]}"; do
  mv "$manifest" "$(staged "$manifest" old)"
done
trap swap_in EXIT
for _ in $(seq 240); do
  if forgotten; then
    sleep 1 # the worker may end up to 0.8 s after the folder and the cgroup went
    exit 0
  fi
  sleep 0.25
done
