#!/usr/bin/env bash
# Build the hostpool test-lab images. Idempotent; safe to run again (docker's build cache
# makes a no-change rebuild take a second or two).
#
#   1. client key pair docker/.cache/id_ed25519{,.pub} (mounted read-only into the lab)
#   2. base image hostpool/bookworm-sshd-base, made with mmdebstrap + docker import when
#      missing (no container registry needed, only a Debian mirror)
#   3. lab images hostpool/lab-sshd, hostpool/lab-sshd-password, hostpool/lab-sshd-rekey
#
# Environment:
#   HOSTPOOL_BASE_IMAGE     base for the lab images (default hostpool/bookworm-sshd-base;
#                           set it to debian:bookworm-slim on a machine with a registry,
#                           then no mmdebstrap step runs)
#   HOSTPOOL_DEBIAN_MIRROR  mirror for mmdebstrap (default: mmdebstrap's own default)
#   HOSTPOOL_REBUILD_BASE=1 re-create the base image even if it exists
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/.cache"
base_image="${HOSTPOOL_BASE_IMAGE:-hostpool/bookworm-sshd-base}"
local_base="hostpool/bookworm-sshd-base"

log() { printf '[build-base-image] %s\n' "$*" >&2; }

mkdir -p "$cache"
# One build at a time (two test sessions may start together).
exec 9>"$cache/build.lock"
flock -w 900 9

# 1. client key pair
if [[ -d "$cache/id_ed25519.pub" ]]; then
    # docker creates a directory for a missing bind-mount source; undo that.
    rmdir "$cache/id_ed25519.pub" 2>/dev/null || true
fi
if [[ ! -f "$cache/id_ed25519" || ! -f "$cache/id_ed25519.pub" ]]; then
    log "generating client key $cache/id_ed25519"
    tmpkey="$(mktemp -d "$cache/key.XXXXXX")"
    ssh-keygen -q -t ed25519 -N '' -C hostpool-lab -f "$tmpkey/id_ed25519"
    mv -f "$tmpkey/id_ed25519.pub" "$cache/id_ed25519.pub"
    mv -f "$tmpkey/id_ed25519" "$cache/id_ed25519"
    rmdir "$tmpkey"
fi
chmod 600 "$cache/id_ed25519"
chmod 644 "$cache/id_ed25519.pub"

# 2. base image
if [[ "$base_image" == "$local_base" ]]; then
    if [[ "${HOSTPOOL_REBUILD_BASE:-0}" == 1 ]] || ! docker image inspect "$local_base" >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null || { log "mmdebstrap is not installed (apt-get install mmdebstrap)"; exit 1; }
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        log "mmdebstrap bookworm -> $work/rootfs.tar"
        start=$SECONDS
        mirror_args=()
        if [[ -n "${HOSTPOOL_DEBIAN_MIRROR:-}" ]]; then mirror_args=("$HOSTPOOL_DEBIAN_MIRROR"); fi
        mmdebstrap --quiet --variant=apt \
            --include=openssh-server,procps,iproute2 \
            --aptopt='Acquire::Check-Valid-Until "false"' \
            --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
            bookworm "$work/rootfs.tar" "${mirror_args[@]}"
        log "docker import $local_base"
        docker import -c 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$local_base" >/dev/null
        rm -rf "$work"
        trap - EXIT
        log "base image ready in $((SECONDS - start))s"
    else
        log "base image $local_base present"
    fi
fi

# 3. lab images (Dockerfile on stdin: no build context needed)
for target in sshd password rekey; do
    tag="hostpool/lab-sshd"
    [[ "$target" == sshd ]] || tag="hostpool/lab-sshd-$target"
    log "docker build --target $target -t $tag (BASE_IMAGE=$base_image)"
    if ! DOCKER_BUILDKIT=0 docker build -q --target "$target" --build-arg "BASE_IMAGE=$base_image" \
            -t "$tag" - <"$here/Dockerfile" >"$cache/build-$target.log" 2>&1; then
        cat "$cache/build-$target.log" >&2
        exit 1
    fi
done
log "done"
