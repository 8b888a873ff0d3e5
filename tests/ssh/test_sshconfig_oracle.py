"""ssh_config resolved by hostpool and by OpenSSH (``ssh -G``), compared keyword by keyword.

Every config below is resolved for several hosts (and login users) by both; for each
keyword hostpool reads, the value must be what ``ssh -G`` prints.  OpenSSH is the oracle
(openssh-client; CI installs it).
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

import pytest

from hostpool.inventory.sshconfig import SSHConfig

SSH = shutil.which("ssh")
# Keywords ``ssh -G`` prints as read (tokens unexpanded) or expanded; compared as printed.
RAW = (
    "identityfile", "certificatefile", "proxycommand", "proxyjump", "hostkeyalias",
    "identityagent", "identitiesonly", "connecttimeout", "serveraliveinterval",
    "serveralivecountmax", "stricthostkeychecking", "globalknownhostsfile",
)  # fmt: skip
DEFAULTS = {"identitiesonly": "no", "connecttimeout": "none", "serveraliveinterval": "0",
            "serveralivecountmax": "3", "stricthostkeychecking": "ask"}  # fmt: skip

CONFIGS: dict[str, tuple[str, list[tuple[str, str | None]]]] = {
    "first-value-wins": (
        "Host web*\n  Port 2201\nHost *\n  Port 22\n  User base\n",
        [("web1", None), ("db", None)],
    ),
    "match-host-user": (
        "Host web*\n  User admin\nMatch host web1 user root\n  Port 2202\n",
        [("web1", None), ("web1", "root"), ("web2", "root")],
    ),
    "match-user-local-default": ("Match user root\n  Port 2600\n", [("h", None), ("h", "bob")]),
    "match-user-from-config": (
        "Host h\n  User bob\nMatch user bob\n  Port 2601\n",
        [("h", None), ("h", "eve")],
    ),
    "match-localuser": ("Match localuser root\n  Port 2602\n", [("h", None)]),
    "match-negated": (
        "Match !host h\n  Port 2700\nMatch host h,!x localuser root\n  Port 2701\n",
        [("h", None), ("x", None), ("y", None)],
    ),
    "match-originalhost": (
        "Host a\n  HostName real.example.com\nMatch originalhost a\n"
        "  User orig\nMatch host real.example.com\n  Port 2800\n",
        [("a", None), ("real.example.com", None)],
    ),
    "match-host-sees-hostname": (
        "Host a\n HostName %h.example.com\nMatch host a.example.com\n Port 2400\n",
        [("a", None), ("b", None)],
    ),
    "match-final": (
        "Host alias\n  HostName real.example.com\nHost real.example.com\n"
        "  Port 2300\nMatch final all\n  User finaluser\n",
        [("alias", None)],
    ),
    "no-final-no-second-pass": (
        "Host alias\n  HostName real.example.com\nHost real.example.com\n  Port 2300\n",
        [("alias", None)],
    ),
    "match-final-host": (
        "Match final host real.example.com\n  Port 2299\nHost alias\n  HostName real.example.com\n",
        [("alias", None), ("other", None)],
    ),
    "match-all": ("Match all\n  Port 2900\n", [("anything", None)]),
    "match-canonical-never": ("Match canonical all\n  Port 2901\n", [("h", None)]),
    "equals-syntax": (
        "Host = x\n  Port=2500\n  User = u1\nHost *\n  Port 22\n",
        [("x", None), ("y", None)],
    ),
    "quoted-values": (
        'Host q\n  IdentityFile "~/.ssh/with space"\n  User "quser"\n',
        [("q", None)],
    ),
    "comments": (
        "# top\nHost c # trailing comment\n  Port 2001 # why\n  User a#b\n",
        [("c", None)],
    ),
    "case-insensitive-keywords": ("HOST ci\n  pOrT 2002\n  USER Mixed\n", [("ci", None)]),
    "case-insensitive-patterns": ("Host WEB*\n  Port 2003\n", [("web1", None)]),
    "wildcards": (
        "Host web?.example.com\n  Port 2004\nHost *.example.com\n  Port 2005\n",
        [("web1.example.com", None), ("web10.example.com", None), ("x.org", None)],
    ),
    "bracket-is-literal": ("Host web[1]\n  Port 2006\n", [("web[1]", None), ("web1", None)]),
    "negation-in-host": (
        "Host *.prod !db*.prod\n  Port 2007\n",
        [("web.prod", None), ("db1.prod", None)],
    ),
    "only-negation-never-matches": ("Host !x\n  Port 2008\n", [("y", None), ("x", None)]),
    "several-host-patterns": ("Host a b c\n  Port 2009\n", [("b", None), ("d", None)]),
    "hostname-tokens": ("Host *\n  HostName %h.internal\n", [("web", None)]),
    "hostname-percent": ("Host p\n  HostName a%%b\n", [("p", None)]),
    "identity-files-accumulate": (
        "Host web\n  IdentityFile ~/.ssh/one\nHost *\n"
        "  IdentityFile ~/.ssh/two\n  IdentityFile ~/.ssh/one\n",
        [("web", None), ("other", None)],
    ),
    "identity-tokens-raw": ("Host *\n  IdentityFile ~/.ssh/id_%h_%r\n", [("h", None)]),
    "identity-none": ("Host *\n  IdentityFile none\n", [("h", None)]),
    "identities-only": ("Host *.prod\n  IdentitiesOnly yes\n", [("a.prod", None), ("b", None)]),
    "proxycommand": (
        "Host *.prod\n  ProxyCommand ssh -W %h:%p bastion\n",
        [("db.prod", None), ("x", None)],
    ),
    "proxyjump-first-wins": (
        "Host h\n  ProxyJump bastion\n  ProxyCommand nc %h %p\n",
        [("h", None)],
    ),
    "proxycommand-none-blocks-jump": (
        "Host h\n  ProxyCommand none\n  ProxyJump b\n",
        [("h", None)],
    ),
    "proxyjump-chain": ("Host h\n  ProxyJump u1@j1:2222,j2\n", [("h", None)]),
    "known-hosts-files": (
        "Host *.prod\n  UserKnownHostsFile ~/.ssh/prod_known %h\n  GlobalKnownHostsFile /g1 /g2\n",
        [("db.prod", None), ("x", None)],
    ),
    "known-hosts-none": ("Host h\n  UserKnownHostsFile none\n", [("h", None)]),
    "timeouts-and-keepalive": (
        "Host h\n  ConnectTimeout 7\n  ServerAliveInterval 5\n  ServerAliveCountMax 2\n",
        [("h", None), ("x", None)],
    ),
    "strict-checking": (
        "Host a\n  StrictHostKeyChecking accept-new\nHost b\n  StrictHostKeyChecking no\n",
        [("a", None), ("b", None), ("c", None)],
    ),
    "host-key-alias": ("Host h\n  HostKeyAlias alias1\n", [("h", None)]),
    "certificate-and-agent": (
        "Host h\n  CertificateFile ~/c-%r\n  IdentityAgent none\n",
        [("h", None)],
    ),
    "include-absolute": ("Include {dir}/inc.conf\nHost *\n  Port 22\n", [("inc1", None)]),
    "include-in-block": (
        "Host scoped\n  Include {dir}/inc.conf\nHost *\n  User base\n",
        [("scoped", None), ("inc1", None)],
    ),
    "include-glob": ("Include {dir}/conf.d/*.conf\n", [("g1", None), ("g2", None)]),
    "user-from-cli-wins": ("Host h\n  User cfg\n", [("h", "cli"), ("h", None)]),
}

INCLUDES = {
    "inc.conf": "Host inc1\n  Port 2222\n  User incuser\nPort 2223\n",
    "conf.d/a.conf": "Host g1\n  Port 3001\n",
    "conf.d/b.conf": "Host g1 g2\n  Port 3002\n  User globuser\n",
}


def ssh_g(config: Path, host: str, user: str | None) -> dict[str, str]:
    assert SSH is not None
    argv = [SSH, "-G", "-F", str(config), *(["-l", user] if user else []), host]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    printed: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in printed and key in ("identityfile", "certificatefile"):
            printed[key] += "\n" + value
        else:
            printed[key] = value
    return printed


@pytest.fixture(scope="module")
def include_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sshinc")
    for rel, text in INCLUDES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.skipif(SSH is None, reason="needs openssh-client (ssh -G)")
@pytest.mark.parametrize("name", list(CONFIGS))
def test_resolution_matches_ssh_g(name: str, tmp_path: Path, include_dir: Path) -> None:
    text, queries = CONFIGS[name]
    path = tmp_path / "config"
    path.write_text(text.replace("{dir}", str(include_dir)))
    config = SSHConfig.load(path)
    local = getpass.getuser()
    for host, user in queries:
        oracle = ssh_g(path, host, user)
        ours = config.lookup(host, user=user, local_user=local)
        hostname = ours.first("hostname")
        assert (hostname.value if hostname else host).lower() == oracle["hostname"], (host, user)
        port = ours.first("port")
        assert (port.value if port else "22") == oracle["port"], (host, user)
        login = user or (ours.first("user").value if ours.first("user") else local)
        assert login == oracle["user"], (host, user)
        for key in RAW:
            got = [o for o in ours.all(key) if not (key == "proxycommand" and o.value == "none")]
            if not got:
                if key in DEFAULTS:
                    assert oracle.get(key) == DEFAULTS[key], (host, user, key)
                continue
            expected = oracle.get(key, "")
            value = "\n".join(o.value for o in got) if key.endswith("file") else got[0].value
            if key == "stricthostkeychecking":
                expected = {"true": "yes", "false": "no"}.get(expected, expected)
            assert value == expected, (host, user, key)
        known = ours.first("userknownhostsfile")
        if known is not None:
            expanded = " ".join(
                str(Path(a.replace("%h", host)).expanduser()) if a != "none" else a
                for a in known.args
            )
            assert expanded == oracle["userknownhostsfile"], (host, user)


def test_the_corpus_is_large_enough() -> None:
    assert len(CONFIGS) >= 40
