"""INI inventory: parsing, validation (with exact file:line), patterns, precedence, resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostpool.errors import ConfigError, InventoryError, PatternError
from hostpool.inventory import (
    MAX_RANGE_HOSTS,
    HostDefaults,
    Inventory,
    is_valid_host_name,
    is_valid_user,
    load_inventory,
    parse_host_list,
    parse_inventory,
)
from hostpool.models import Connection, Target

REPO = Path(__file__).resolve().parents[2]
NO_SSH = HostDefaults(ssh_config=None)


def inv(text: str) -> Inventory:
    return parse_inventory(text, "inv.ini")


def names(inventory: Inventory, pattern: str = "all", limit: str | None = None) -> list[str]:
    return [t.name for t in inventory.select(pattern, limit, NO_SSH)]


def one(text: str, defaults: HostDefaults = NO_SSH) -> Target:
    (target,) = inv(text).select(defaults=defaults)
    return target


def error_of(text: str) -> str:
    with pytest.raises(InventoryError) as info:
        inv(text)
    return str(info.value)


# --------------------------------------------------------------------------- parsing


def test_groups_children_and_implicit_groups() -> None:
    inventory = inv("loose\n[web]\nw1\n[db]\nd1\n[prod:children]\nweb\ndb\n[empty]\n")
    assert set(inventory.groups) == {"all", "ungrouped", "web", "db", "prod", "empty"}
    assert inventory.group_hosts("prod") == ["w1", "d1"]
    assert inventory.group_hosts("ungrouped") == ["loose"]
    assert inventory.group_hosts("all") == ["loose", "w1", "d1"]
    assert inventory.groups["prod"].children == ["web", "db"]
    assert inventory.groups["web"].parents == ["prod"]
    assert names(inventory, "prod") == ["w1", "d1"]
    targets = {t.name: t for t in inventory.select(defaults=NO_SSH)}
    assert targets["w1"].groups == ("prod", "web")
    assert targets["loose"].groups == ("ungrouped",)


def test_ungrouped_means_no_group_but_all() -> None:
    inventory = inv("a\nb\n[ungrouped]\nc\n[g]\nb\n[all]\nd\n")
    assert inventory.group_hosts("ungrouped") == ["a", "c", "d"]
    assert names(inventory, "ungrouped") == ["a", "c", "d"]


def test_hosts_section_suffix_and_all_children_are_accepted() -> None:
    inventory = inv("[web:hosts]\nw1\n[all:children]\nweb\n")
    assert inventory.group_hosts("web") == ["w1"]
    assert inventory.groups["web"].parents == ["all"]


def test_shell_like_quoting_in_host_and_group_vars() -> None:
    target = one('h msg="hello world" other=\'single q\'\n[all:vars]\ngreeting = "hi there"\n')
    assert target.var("msg") == "hello world"
    assert target.var("other") == "single q"
    assert target.var("greeting") == "hi there"


def test_var_values_may_contain_equals_and_be_empty() -> None:
    target = one("h opts=a=b empty=\n[all:vars]\nexpr = x=1\n")
    assert target.var("opts") == "a=b"
    assert target.var("empty") == ""
    assert target.var("expr") == "x=1"


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("web[1:3]", ["web1", "web2", "web3"]),
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("web[08:10].example.com", ["web08.example.com", "web09.example.com", "web10.example.com"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("n[1:10:4]", ["n1", "n5", "n9"]),
        ("n[:2]", ["n0", "n1", "n2"]),
        ("r[1:2]x[a:b]", ["r1xa", "r1xb", "r2xa", "r2xb"]),
    ],
)
def test_ranges_expand(token: str, expected: list[str]) -> None:
    assert inv(f"[g]\n{token}\n").host_names == expected


def test_range_at_the_size_limit_is_fine() -> None:
    assert len(inv(f"h[1:{MAX_RANGE_HOSTS}]\n").host_names) == MAX_RANGE_HOSTS


# --------------------------------------------------------------------------- structure errors


def test_children_may_reference_groups_defined_later() -> None:
    inventory = inv("[p:children]\nweb\n[web]\nh\n")
    assert inventory.group_hosts("p") == ["h"]


def test_earliest_undefined_reference_is_reported() -> None:
    rendered = error_of("[a:vars]\nx=1\n[p:children]\nzzz\n")
    assert rendered.startswith("inv.ini:1: ")


def test_diamond_is_not_a_cycle() -> None:
    inventory = inv("[top:children]\nl\nr\n[l:children]\nleaf\n[r:children]\nleaf\n[leaf]\nh\n")
    assert inventory.group_hosts("top") == ["h"]
    assert inventory.groups["leaf"].depth == 3


def test_deep_hierarchy_does_not_recurse() -> None:
    depth = 3000
    text = "".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(depth)) + f"[g{depth}]\nh\n"
    inventory = inv(text)
    assert inventory.group_hosts("g0") == ["h"]
    assert inventory.groups[f"g{depth}"].depth == depth + 1


# ---------------------------------------------------------------- host / value validation


@pytest.mark.parametrize(
    "name",
    ["web1", "web-1.example.com", "10.0.0.1", "my_container", "Web1", "2001:db8::1", "::1", "a"],
)
def test_valid_host_names(name: str) -> None:
    assert is_valid_host_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "-h", "-oProxyCommand=x", "a b", "a;b", "a&b", "a$b", "a/b", "a\nb", "[::1]",
     "fe80::1%eth0", "x" * 254],
)  # fmt: skip
def test_invalid_host_names(name: str) -> None:
    assert not is_valid_host_name(name)


@pytest.mark.parametrize("user", ["root", "deploy-bot", "_svc", "Admin", "a.b", "host$", "a" * 32])
def test_valid_users(user: str) -> None:
    assert is_valid_user(user)


@pytest.mark.parametrize("user", ["", "-l", "-oX", "a b", "a;b", "1root", "a$b", "a" * 33])
def test_invalid_users(user: str) -> None:
    assert not is_valid_user(user)


# --------------------------------------------------------------------------- IPv6


def test_ipv6_ansible_host_may_be_bracketed() -> None:
    assert one("h ansible_host=[2001:db8::9]\n").address == "2001:db8::9"
    assert one("h ansible_host=2001:db8::9\n").address == "2001:db8::9"


# --------------------------------------------------------------------------- connections


def test_connection_defaults_to_ssh() -> None:
    assert one("h\n").connection is Connection.SSH


# --------------------------------------------------------------------------- precedence


PRECEDENCE = """
[all:vars]
v=all
only_all=1

[parent:children]
child

[parent:vars]
v=parent
pv=parent

[child:vars]
v=child

[child]
h1
h2 v=host

[aaa]
h3
[zzz]
h3
[aaa:vars]
same=aaa
[zzz:vars]
same=zzz
"""


def test_same_depth_later_alphabetical_group_wins() -> None:
    targets = {t.name: t for t in inv(PRECEDENCE).select(defaults=NO_SSH)}
    assert targets["h3"].var("same") == "zzz"
    # File order does not matter, only names.
    reordered = inv("[zzz:vars]\nsame=zzz\n[aaa:vars]\nsame=aaa\n[zzz]\nh\n[aaa]\nh\n")
    assert reordered.select(defaults=NO_SSH)[0].var("same") == "zzz"


def test_depth_beats_name() -> None:
    text = "[a:children]\nb\n[b]\nh\n[a:vars]\nx=a\n[b:vars]\nx=b\n[zz]\nh\n[zz:vars]\nx=zz\n"
    # b is at depth 2, zz at depth 1: the deeper group wins even though 'zz' sorts later.
    assert one(text).var("x") == "b"


def test_inventory_beats_cli_defaults_beats_builtin_defaults() -> None:
    defaults = HostDefaults(user="cli", key_file="/k/cli", port=2200, ssh_config=None)
    plain = one("h\n", defaults)
    assert (plain.user, plain.port, plain.key_files) == ("cli", 2200, ("/k/cli",))
    pinned = one(
        "h ansible_user=inv ansible_port=2300 ansible_ssh_private_key_file=/k/inv\n", defaults
    )
    assert (pinned.user, pinned.port) == ("inv", 2300)
    assert pinned.key_files == ("/k/inv", "/k/cli")
    bare = one("h\n")
    assert (bare.user, bare.port, bare.key_files, bare.proxy_jump) == (None, 22, (), None)


def test_key_paths_expand_tilde(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    target = one(
        "h ansible_ssh_private_key_file=~/.ssh/id\n", HostDefaults(key_file="~/k", ssh_config=None)
    )
    assert target.key_files == (f"{tmp_path}/.ssh/id", f"{tmp_path}/k")
    assert target.var("ansible_ssh_private_key_file") == "~/.ssh/id"


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        (HostDefaults(user="-oProxyCommand=x"), "default user '-oProxyCommand=x'"),
        (HostDefaults(user="a b"), "not a valid user name"),
        (HostDefaults(port=0), "default port 0"),
        (HostDefaults(port=70000), "default port 70000"),
        (HostDefaults(key_file="-i"), "key file '-i' must not start with '-'"),
        (HostDefaults(key_file=""), "key file path is empty"),
    ],
)
def test_cli_defaults_are_validated(defaults: HostDefaults, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^default ") as info:
        inv("h\n").select(defaults=defaults)
    assert message in str(info.value)
    assert not isinstance(info.value, InventoryError)


def test_proxy_jump_from_inventory() -> None:
    target = one("[g]\nh\n[g:vars]\nproxy_jump=ops@bastion:2222,[2001:db8::1]\n")
    assert target.proxy_jump == "ops@bastion:2222,[2001:db8::1]"
    assert one("h proxy_jump=none\n").proxy_jump is None


# --------------------------------------------------------------------------- patterns


PATTERNS = """
lonely
[web]
web1
web2
web3
[db]
db1
db2
[prod:children]
web
db
[staging]
web3
db9
"""


def test_glob_matches_group_names_too() -> None:
    assert names(inv(PATTERNS), "sta*") == ["web3", "db9"]


def test_limit_intersects() -> None:
    inventory = inv(PATTERNS)
    assert names(inventory, "prod", "web*") == ["web1", "web2", "web3"]
    assert names(inventory, "all", "staging:!db9") == ["web3"]
    assert names(inventory, "web", "web3,db1") == ["web3"]


# --------------------------------------------------------------------------- host lists


def test_parse_host_list_single_trailing_comma() -> None:
    assert parse_host_list("localhost,").host_names == ["localhost"]
    assert parse_host_list(",").host_names == []


# --------------------------------------------------------------------------- ssh_config


def write_ssh_config(tmp_path: Path, text: str) -> HostDefaults:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return HostDefaults(ssh_config=str(path))


def test_ssh_config_fills_what_inventory_and_cli_leave(tmp_path: Path) -> None:
    defaults = write_ssh_config(
        tmp_path,
        "Host web*\n  HostName %h.internal\n  Port 2201\n  User cfguser\n"
        "  IdentityFile /keys/%r@%h\n  ProxyJump jump@bastion\n",
    )
    target = one("web1\n", defaults)
    assert target.address == "web1.internal"
    assert (target.port, target.user) == (2201, "cfguser")
    assert target.key_files == ("/keys/cfguser@web1.internal",)
    assert target.proxy_jump == "jump@bastion"


def test_inventory_and_cli_beat_ssh_config(tmp_path: Path) -> None:
    path = tmp_path / "cfg"
    path.write_text("Host *\n  HostName cfg.example\n  Port 2201\n  User cfg\n  IdentityFile /c\n")
    cli = HostDefaults(user="cli", port=2202, key_file="/cli", ssh_config=str(path))
    target = one("h ansible_host=10.0.0.5 ansible_user=inv proxy_jump=none\n", cli)
    # ansible_host is what ssh would be given, so its HostName does not apply.
    assert target.address == "10.0.0.5"
    assert (target.user, target.port) == ("inv", 2202)
    assert target.key_files == ("/cli", "/c")
    assert target.proxy_jump is None


def test_ssh_config_is_looked_up_by_ansible_host(tmp_path: Path) -> None:
    defaults = write_ssh_config(tmp_path, "Host real\n  Port 2999\n  HostName real.example\n")
    target = one("alias ansible_host=real\n", defaults)
    assert target.address == "real"  # the inventory address wins...
    assert target.port == 2999  # ...but the matching block still supplies the rest


def test_ssh_config_only_for_ssh_hosts(tmp_path: Path) -> None:
    defaults = write_ssh_config(tmp_path, "Host *\n  Port 2201\n  User cfg\n  HostName x\n")
    for conn in ("local", "docker"):
        target = one(f"c ansible_connection={conn}\n", defaults)
        assert (target.address, target.port, target.user) == ("c", 22, None)


def test_missing_ssh_config_is_fine(tmp_path: Path) -> None:
    target = one("h\n", HostDefaults(ssh_config=str(tmp_path / "absent")))
    assert (target.address, target.port) == ("h", 22)


def test_default_ssh_config_path_reads_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Include extra.conf\n")
    (tmp_path / ".ssh" / "extra.conf").write_text("Host h\n  User fromhome\n")
    assert one("h\n", HostDefaults()).user == "fromhome"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("Host h\n  Port abc\n", "ssh_config Port 'abc' for host 'h'"),
        ("Host h\n  Port 0\n", "is not an integer 1..65535"),
        ("Host h\n  User -oProxyCommand=x\n", "ssh_config User '-oProxyCommand=x'"),
        ("Host h\n  HostName -oProxyCommand=x\n", "ssh_config HostName '-oProxyCommand=x'"),
        ("Host h\n  HostName 'a;b'\n", "is not a valid host name"),
        ("Host h\n  IdentityFile -oFoo\n", "must not start with '-'"),
        ("Host h\n  ProxyJump -oFoo\n", "ssh_config ProxyJump"),
        ("Host h\n  IdentityFile /k/%z\n", "unsupported token %z"),
    ],
)
def test_ssh_config_values_are_validated(tmp_path: Path, config: str, message: str) -> None:
    defaults = write_ssh_config(tmp_path, "# header\n" + config)
    with pytest.raises(ConfigError) as info:
        inv("h\n").select(defaults=defaults)
    assert f"{tmp_path / 'ssh_config'}:3: " in str(info.value)
    assert message in str(info.value)
    assert not isinstance(info.value, InventoryError)


def test_bad_ssh_config_for_other_hosts_is_ignored(tmp_path: Path) -> None:
    defaults = write_ssh_config(tmp_path, "Host other\n  Port abc\n")
    assert one("h\n", defaults).port == 22


# --------------------------------------------------------------------------- describe & files


def test_describe_honours_limit() -> None:
    described = inv(PATTERNS).describe("prod", "db*", NO_SSH)
    assert [d["name"] for d in described] == ["db1", "db2"]


def test_shipped_local_inventory() -> None:
    inventory = load_inventory(REPO / "inventories" / "local.ini")
    (target,) = inventory.select(defaults=NO_SSH)
    assert target.name == "localhost"
    assert target.connection is Connection.LOCAL
    assert target.groups == ("local",)


def test_shipped_example_inventory() -> None:
    inventory = load_inventory(REPO / "inventories" / "example.ini")
    targets = {t.name: t for t in inventory.select(defaults=NO_SSH)}
    assert "web04.example.com" in targets
    assert [n for n in targets if n.startswith("db-replica")] == [
        "db-replica1.example.com",
        "db-replica3.example.com",
        "db-replica5.example.com",
    ]
    assert targets["web-canary.example.com"].port == 2222
    assert targets["2001:db8::10"].port == 2222
    assert targets["db-a.example.com"].user == "postgres"
    assert targets["web01.example.com"].user == "ops"
    assert targets["app2"].connection is Connection.DOCKER
    assert targets["localhost"].connection is Connection.LOCAL
    assert names(inventory, "prod:&eu:!web0[2-4]*")[:2] == [
        "web01.example.com",
        "web-canary.example.com",
    ]


def test_targets_pickle() -> None:
    import pickle

    targets = inv(PATTERNS).select(defaults=NO_SSH)
    assert pickle.loads(pickle.dumps(targets)) == targets


# -- hardening: what reaches a command line (docs/inventory.md lists each difference) ----------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("evil ansible_host=-oProxyCommand=x", "invalid host address"),
        ("evil ansible_host='a b'", "invalid host address"),
        ("evil ansible_ssh_host=$(id)", "invalid host address"),
        ("evil;rm", "is not a host name or address"),
        ("`id`", "is not a host name or address"),
        ("evil ansible_port=abc", "not an integer 1..65535"),
        ("evil ansible_port=70000", "not an integer 1..65535"),
        ("evil:0", "not an integer 1..65535"),
        ("evil ansible_user=-l", "invalid user name '-l'"),
        ("evil ansible_user='root;id'", "invalid user name"),
        ("evil ansible_connection=winrm", "unknown connection 'winrm'"),
        ("evil ansible_ssh_private_key_file=-oFoo", "must not start with '-'"),
        ("evil ansible_host=\"{{ lookup('env', 'X') }}\"", "template hostpool cannot evaluate"),
    ],
)
def test_unservable_hosts_fail_only_when_selected(line: str, message: str) -> None:
    inventory = inv(f"[g]\nfine\n{line}\n")
    assert [t.name for t in inventory.select("fine")] == ["fine"]  # the file is accepted
    with pytest.raises(ConfigError) as info:
        inventory.select("g")
    assert message in str(info.value) and "nothing was contacted" in str(info.value)


def test_short_forms_are_ordinary_variables_with_one_warning() -> None:
    inventory = inv("[app]\nw1 host=db.internal port=8080 user=bob\n[app:vars]\nport=1\n")
    (target,) = inventory.select("app", defaults=HostDefaults(ssh_config=None))
    assert (target.address, target.port, target.user) == ("w1", 22, None)
    assert dict(target.vars)["port"] == 8080
    assert len(inventory.warnings) == 1 and "ordinary variables" in inventory.warnings[0]


def test_a_term_that_matches_nothing_is_an_error() -> None:
    inventory = inv("[web]\nw1\n[db]\nd1\n")
    for pattern in ("all:!prd", "web,dbb", "nothing"):
        with pytest.raises(PatternError):
            inventory.select(pattern)


def test_ranges_are_bounded() -> None:
    with pytest.raises(InventoryError, match="huge range"):
        inv("h[0:99999999]\n")


def test_an_inventory_or_ssh_config_others_can_write_is_warned_about(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("web1 ansible_host=10.0.0.1\n")
    os.chmod(inv, 0o666)
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  User deploy\n")
    os.chmod(config, 0o664)
    loaded = load_inventory(str(inv))
    loaded.select(defaults=HostDefaults(ssh_config=str(config)))
    text = "\n".join(loaded.warnings)
    assert f"{inv} is writable by others (mode 0666)" in text
    assert f"ssh_config {config} is writable by its group (mode 0664)" in text
    os.chmod(inv, 0o644)
    os.chmod(config, 0o600)
    quiet = load_inventory(str(inv))
    quiet.select(defaults=HostDefaults(ssh_config=str(config)))
    assert not [w for w in quiet.warnings if "writable" in w]
