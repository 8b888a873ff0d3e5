#!/usr/bin/env bash
# Install what bench/run.py compares against, without touching the project's own venv:
#  - Debian: pdsh, pssh (its command is `parallel-ssh`), openssh-server/client, util-linux
#  - bench/.venv (gitignored): psutil and the Python peers, py-spy for profiling
# Needs root for apt-get.  Safe to re-run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"

if command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq pdsh pssh openssh-server openssh-client util-linux iproute2 >/dev/null
fi
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
# Unpinned: the report records the exact version of every tool it ran.
"$here/.venv/bin/pip" install -q --upgrade \
    psutil asyncssh parallel-ssh fabric ClusterShell ansible-core py-spy
"$here/.venv/bin/pip" list 2>/dev/null | grep -i -E \
    '^(psutil|asyncssh|parallel-ssh|ssh2-python|fabric|paramiko|ClusterShell|ansible-core|py-spy) '
