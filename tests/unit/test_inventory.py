"""INI inventory: parsing, validation (with exact file:line), patterns, precedence, resolution."""

from __future__ import annotations

import json
import shlex
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


def test_load_inventory_from_file_keeps_file_order(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("zeta\n[g]\nalpha\nzeta\nmid\n")
    inventory = load_inventory(path)
    assert inventory.host_names == ["zeta", "alpha", "mid"]
    assert inventory.source == str(path)
    assert names(inventory) == ["zeta", "alpha", "mid"]


def test_load_error_names_the_real_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.ini"
    path.write_text("ok\n\n-oProxyCommand=evil\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(str(path))
    assert str(info.value).startswith(f"{path}:3: ")
    assert info.value.path == str(path) and info.value.lineno == 3


def test_missing_or_unsupported_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read inventory"):
        load_inventory(tmp_path / "nope.ini")
    with pytest.raises(ConfigError, match="cannot read inventory"):
        load_inventory(tmp_path)
    (tmp_path / "hosts.yml").write_text("all:\n  hosts: {}\n")
    with pytest.raises(ConfigError, match="only INI"):
        load_inventory(tmp_path / "hosts.yml")
    (tmp_path / "bin.ini").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_inventory(tmp_path / "bin.ini")


def test_comments_blank_lines_and_inline_comments() -> None:
    inventory = inv(
        "# comment\n; other comment\n\n[web]   # trailing\nweb1  # why\n"
        "web2 url=http://x/#frag note='a # b'\n"
    )
    assert inventory.host_names == ["web1", "web2"]
    web2 = inventory.select("web2", defaults=NO_SSH)[0]
    assert web2.var("url") == "http://x/#frag"
    assert web2.var("note") == "a # b"


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


def test_repeated_hosts_merge_vars_and_groups() -> None:
    inventory = inv("[a]\nh x=1 y=1\n[b]\nh y=2\n")
    (target,) = inventory.select(defaults=NO_SSH)
    assert target.groups == ("a", "b")
    assert target.var("x") == "1" and target.var("y") == "2"


def test_shell_like_quoting_in_host_and_group_vars() -> None:
    target = one('h msg="hello world" other=\'single q\'\n[all:vars]\ngreeting = "hi there"\n')
    assert target.var("msg") == "hello world"
    assert target.var("other") == "single q"
    assert target.var("greeting") == "hi there"


@pytest.mark.parametrize(
    "line",
    [
        "h a=1\tb=2  c=3\r",
        "h a=x\u2003y b=\xa0z",  # str.split's whitespace, not shlex's: stays in the word
        "h a=b\\ c",
        "h a='x  y' b=\"p q\"",
        "h a=it\\'s",
    ],
)
def test_host_lines_split_exactly_as_shlex(line: str) -> None:
    # Unquoted lines take a fast path; every line must still split the way shlex does.
    words = shlex.split(line)
    target = one(line + "\n")
    assert target.name == words[0]
    assert dict(target.vars) == dict(w.split("=", 1) for w in words[1:])


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


def test_range_with_port_and_vars() -> None:
    targets = inv("[g]\nweb[1:2]:2200 user=deploy\n").select(defaults=NO_SSH)
    assert [(t.name, t.port, t.user) for t in targets] == [
        ("web1", 2200, "deploy"),
        ("web2", 2200, "deploy"),
    ]


def test_range_at_the_size_limit_is_fine() -> None:
    assert len(inv(f"h[1:{MAX_RANGE_HOSTS}]\n").host_names) == MAX_RANGE_HOSTS


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("web[5:1]", "reversed range [5:1]"),
        ("web[c:a]", "reversed range [c:a]"),
        ("web[1:5:0]", "range stride must be positive"),
        ("web[1:5:-1]", "range stride must be positive"),
        ("web[1:5:x]", "invalid range stride"),
        ("web[1:c]", "mixed alphabetic and numeric range [1:c]"),
        ("web[a:3]", "mixed alphabetic and numeric range"),
        ("web[1:99999999999]", "huge range"),
        ("w[1:200]x[1:200]", "huge range"),
        ("web[1]", "invalid range [1]"),
        ("web[aa:zz]", "invalid range [aa:zz]"),
        ("web[1:3", "invalid host name 'web[1:3'"),
    ],
)
def test_range_errors(token: str, message: str) -> None:
    text = error_of(f"[g]\nok\n{token}\n")
    assert text.startswith("inv.ini:3: ")
    assert message in text


# --------------------------------------------------------------------------- structure errors


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[web\nh\n", 1, "unterminated section header"),
        ("h\n[web] extra\n", 2, "invalid section header"),
        ("[a:b:c]\n", 1, "invalid section header"),
        ("[web:]\n", 1, "invalid section header"),
        ("[we b]\n", 1, "invalid section header"),
        ("\n[web:kids]\n", 2, "unknown section suffix ':kids'"),
        ("[-web]\n", 1, "invalid group name '-web'"),
        ("[ungrouped:children]\n", 1, "cannot have children"),
        ("[web]\nh\n[p:children]\nweb\nnothere\n", 5, "undefined group 'nothere'"),
        ("[p:children]\nall\n", 2, "is implicit"),
        ("[p:children]\nweb db\n[web]\n[db]\n", 2, "one group name per line"),
        ("[ghost:vars]\nx=1\n", 1, "[ghost:vars] refers to undefined group 'ghost'"),
        ("[web:vars]\nthis is not a var\n[web]\n", 2, "expected key=value in [web:vars]"),
        ("[web:vars]\nbad-name=1\n[web]\n", 2, "invalid variable name 'bad-name'"),
        ("h justaword\n", 1, "expected key=value after the host name"),
        ("h 1x=2\n", 1, "invalid variable name '1x'"),
        ("h msg='unterminated\n", 1, "bad quoting"),
        ("[g:vars]\nmsg='open\n[g]\n", 2, "bad quoting"),
    ],
)
def test_structure_errors(text: str, line: int, message: str) -> None:
    rendered = error_of(text)
    assert rendered.startswith(f"inv.ini:{line}: ")
    assert message in rendered


def test_vars_section_before_its_group_is_fine() -> None:
    target = one("[web:vars]\nx=1\n[web]\nh\n")
    assert target.var("x") == "1"


def test_children_may_reference_groups_defined_later() -> None:
    inventory = inv("[p:children]\nweb\n[web]\nh\n")
    assert inventory.group_hosts("p") == ["h"]


def test_earliest_undefined_reference_is_reported() -> None:
    rendered = error_of("[a:vars]\nx=1\n[p:children]\nzzz\n")
    assert rendered.startswith("inv.ini:1: ")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[a:children]\na\n", 2),
        ("[a:children]\nb\n[b:children]\na\n", 4),
        ("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n", 6),
    ],
)
def test_cycles_report_the_closing_children_entry(text: str, line: int) -> None:
    rendered = error_of(text)
    assert rendered.startswith(f"inv.ini:{line}: ")
    assert "own ancestor" in rendered


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
    ("line", "message"),
    [
        ("-oProxyCommand=evil", "invalid host name '-oProxyCommand=evil'"),
        ("host;rm -rf /", "invalid host name 'host;rm'"),
        ("'host;rm -rf /'", "invalid host name 'host;rm -rf /'"),
        ("$(reboot)", "invalid host name"),
        ("`id`", "invalid host name"),
        ("a|b", "invalid host name"),
        ("h\\ x", "invalid host name"),
        (".hidden", "invalid host name"),
        ("web1:ssh", "port 'ssh' is not an integer 1..65535"),
        ("web1:0", "port '0' is not an integer 1..65535"),
        ("web1:65536", "port '65536'"),
        ("web1:", "port ''"),
        ("a:1:2", "IPv6 with a port needs [addr]:port"),
        ("[::1]:x", "port 'x'"),
        ("fe80::1%eth0", "IPv6 with a port needs"),
        ("h ansible_host=-oProxyCommand=x", "ansible_host: invalid host address"),
        ("h ansible_host='a b'", "invalid host address 'a b'"),
        ("h host=x;y", "host: invalid host address"),
        ("h ansible_ssh_host=$(id)", "ansible_ssh_host: invalid host address"),
        ("h ansible_port=abc", "ansible_port: port 'abc' is not an integer 1..65535"),
        ("h port=70000", "port: port '70000'"),
        ("h ansible_ssh_port=-1", "ansible_ssh_port: port '-1'"),
        ("h ansible_user=-l", "ansible_user: invalid user name '-l'"),
        ("h user='root;id'", "user: invalid user name 'root;id'"),
        ("h ansible_ssh_user=a" + "b" * 32, "invalid user name"),
        ("h user=9lives", "invalid user name '9lives'"),
        (
            "h ansible_connection=winrm",
            "unknown connection 'winrm' (expected ssh, local or docker)",
        ),
        ("h connection=telnet", "connection: unknown connection 'telnet'"),
        ("h key=-oFoo", "key: key file '-oFoo' must not start with '-'"),
        ("h ansible_ssh_private_key_file=", "key file path is empty"),
        ("h proxy_jump=-J", "proxy jump '-J': invalid host name '-J'"),
        ("h proxy_jump=-l@bastion", "invalid user '-l'"),
        ("h proxy_jump=bastion:99999", "port '99999'"),
        ("h proxy_jump=a,,b", "invalid host name ''"),
    ],
)
def test_value_validation_errors(line: str, message: str) -> None:
    rendered = error_of(f"[g]\nfine\n{line}\n")
    assert rendered.startswith("inv.ini:3: ")
    assert message in rendered


def test_group_vars_are_validated_at_their_line() -> None:
    rendered = error_of("[web]\nh\n[web:vars]\nok=1\nansible_port = 99999\n")
    assert rendered.startswith("inv.ini:5: ansible_port: port '99999'")


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


def test_ipv6_hosts_bare_and_bracketed() -> None:
    inventory = inv("2001:db8::1\n[2001:db8::2]:2222 user=x\n[2001:db8::3]\n[v6]\n::1\n")
    targets = {t.name: t for t in inventory.select(defaults=NO_SSH)}
    assert list(targets) == ["2001:db8::1", "2001:db8::2", "2001:db8::3", "::1"]
    assert targets["2001:db8::2"].port == 2222
    assert targets["2001:db8::2"].user == "x"
    assert targets["2001:db8::3"].port == 22
    assert targets["::1"].groups == ("v6",)
    assert targets["2001:db8::1"].address == "2001:db8::1"


def test_ipv6_ansible_host_may_be_bracketed() -> None:
    assert one("h ansible_host=[2001:db8::9]\n").address == "2001:db8::9"
    assert one("h ansible_host=2001:db8::9\n").address == "2001:db8::9"


def test_ipv6_patterns() -> None:
    inventory = inv("2001:db8::1\n::1\nweb\n")
    assert names(inventory, "[2001:db8::1]") == ["2001:db8::1"]
    assert names(inventory, "2001:db8::1") == ["2001:db8::1"]
    assert names(inventory, "[::1]:web") == ["::1", "web"]
    assert names(inventory, "web,::1") == ["::1", "web"]
    assert names(inventory, "all:![::1]") == ["2001:db8::1", "web"]


# --------------------------------------------------------------------------- connections


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ssh", Connection.SSH),
        ("paramiko", Connection.SSH),
        ("smart", Connection.SSH),
        ("SSH", Connection.SSH),
        ("local", Connection.LOCAL),
        ("ansible.builtin.local", Connection.LOCAL),
        ("docker", Connection.DOCKER),
        ("community.docker.docker", Connection.DOCKER),
    ],
)
def test_connection_values(value: str, expected: Connection) -> None:
    assert one(f"h ansible_connection={value}\n").connection is expected
    assert one(f"h connection={value}\n").connection is expected


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


def test_child_group_beats_parent_beats_all_and_host_beats_all() -> None:
    targets = {t.name: t for t in inv(PRECEDENCE).select(defaults=NO_SSH)}
    assert targets["h1"].var("v") == "child"
    assert targets["h1"].var("pv") == "parent"
    assert targets["h1"].var("only_all") == "1"
    assert targets["h2"].var("v") == "host"
    assert targets["h3"].var("v") == "all"


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


def test_settings_follow_level_not_alias() -> None:
    # Group sets the long form, host the short form: the host level wins.
    target = one("[g]\nh user=root port=2022\n[g:vars]\nansible_user=deploy\nansible_port=22\n")
    assert (target.user, target.port) == ("root", 2022)
    # Within a level, the later assignment wins.
    assert one("h ansible_user=a user=b\n").user == "b"


def test_inline_port_overrides_host_colon_port() -> None:
    assert one("h:2000 ansible_port=3000\n").port == 3000
    assert one("h:2000\n").var("ansible_port") == "2000"


def test_inventory_beats_cli_defaults_beats_builtin_defaults() -> None:
    defaults = HostDefaults(user="cli", key_file="/k/cli", port=2200, ssh_config=None)
    plain = one("h\n", defaults)
    assert (plain.user, plain.port, plain.key_files) == ("cli", 2200, ("/k/cli",))
    pinned = one("h user=inv port=2300 key=/k/inv\n", defaults)
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


def test_vars_are_all_resolved_sorted_strings() -> None:
    target = one("[g]\nh b=2 a=1\n[g:vars]\nc=3\n[all:vars]\nd=4\n")
    assert target.vars == (("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"))


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


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["lonely", "web1", "web2", "web3", "db1", "db2", "db9"]),
        ("*", ["lonely", "web1", "web2", "web3", "db1", "db2", "db9"]),
        ("web", ["web1", "web2", "web3"]),
        ("web1", ["web1"]),
        ("db2,web1", ["web1", "db2"]),
        ("db2:web1", ["web1", "db2"]),
        ("web:db", ["web1", "web2", "web3", "db1", "db2"]),
        ("prod:&staging", ["web3"]),
        ("prod:!staging", ["web1", "web2", "db1", "db2"]),
        ("prod,!web2,&web", ["web1", "web3"]),
        ("!web:&prod", ["db1", "db2"]),  # order of terms does not matter
        ("!staging", ["lonely", "web1", "web2", "db1", "db2"]),  # only exclusions: from all
        ("&web", ["web1", "web2", "web3"]),
        ("web*", ["web1", "web2", "web3"]),
        ("db[0-1]", ["db1"]),
        ("db[12]", ["db1", "db2"]),
        ("?b9", ["db9"]),
        ("~^web[12]$", ["web1", "web2"]),
        ("~taging", ["web3", "db9"]),  # regex matches group names too
        ("prod:!~[13]$", ["web2", "db2"]),
        ("ungrouped", ["lonely"]),
        (" web1 , db1 ", ["web1", "db1"]),
        ("web1,web1,web", ["web1", "web2", "web3"]),
    ],
)
def test_patterns(pattern: str, expected: list[str]) -> None:
    assert names(inv(PATTERNS), pattern) == expected


def test_glob_matches_group_names_too() -> None:
    assert names(inv(PATTERNS), "sta*") == ["web3", "db9"]


def test_limit_intersects() -> None:
    inventory = inv(PATTERNS)
    assert names(inventory, "prod", "web*") == ["web1", "web2", "web3"]
    assert names(inventory, "all", "staging:!db9") == ["web3"]
    assert names(inventory, "web", "web3,db1") == ["web3"]


@pytest.mark.parametrize(
    ("pattern", "limit", "bad", "message"),
    [
        ("nothere", None, "nothere", "'nothere' matches no host or group"),
        ("web:!nothere", None, "web:!nothere", "'nothere' matches no host or group"),
        ("zz*", None, "zz*", "matches no host or group"),
        ("~^q", None, "~^q", "matches no host or group"),
        ("web:&db", None, "web:&db", "matches no hosts"),
        ("web:!web", None, "web:!web", "matches no hosts"),
        ("web", "db", "db", "limit leaves none of the hosts matched by 'web'"),
        ("web", "nothere", "nothere", "matches no host or group"),
        ("~(", None, "~(", "invalid regex"),
        ("", None, "", "empty term"),
        ("web,,db", None, "web,,db", "empty term"),
        ("web:!", None, "web:!", "empty term"),
        ("web:", None, "web:", "empty term"),
    ],
)
def test_pattern_errors(pattern: str, limit: str | None, bad: str, message: str) -> None:
    with pytest.raises(PatternError) as info:
        inv(PATTERNS).select(pattern, limit, NO_SSH)
    assert info.value.pattern == bad
    assert message in str(info.value)


def test_empty_group_selects_nothing_without_term_error() -> None:
    inventory = inv("h\n[empty]\n")
    with pytest.raises(PatternError, match="matches no hosts"):
        inventory.select("empty", defaults=NO_SSH)
    assert names(inventory, "all:!empty") == ["h"]


def test_empty_inventory_selects_nothing() -> None:
    with pytest.raises(PatternError, match="matches no hosts"):
        inv("# nothing\n").select(defaults=NO_SSH)


def test_host_and_group_with_the_same_name_union() -> None:
    assert names(inv("x\n[x]\ny\n"), "x") == ["x", "y"]


# --------------------------------------------------------------------------- host lists


def test_parse_host_list() -> None:
    inventory = parse_host_list("web1, web2:2222,,[2001:db8::1]:22,::1,")
    assert inventory.host_names == ["web1", "web2", "2001:db8::1", "::1"]
    targets = {t.name: t for t in inventory.select(defaults=NO_SSH)}
    assert targets["web2"].port == 2222
    assert targets["web1"].groups == ("ungrouped",)
    assert names(inventory, "ungrouped") == inventory.host_names


def test_parse_host_list_single_trailing_comma() -> None:
    assert parse_host_list("localhost,").host_names == ["localhost"]
    assert parse_host_list(",").host_names == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ok,-oProxyCommand=x", "invalid host name '-oProxyCommand=x'"),
        ("ok,a;b", "invalid host name 'a;b'"),
        ("web[1:3],x", "invalid host name 'web[1:3]'"),
        ("web:abc,", "port 'abc'"),
    ],
)
def test_parse_host_list_errors(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_host_list(text)
    assert str(info.value).startswith("<host list>:1: ")
    assert message in str(info.value)


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
    assert str(info.value).startswith(f"{tmp_path / 'ssh_config'}:3: ")
    assert message in str(info.value)
    assert not isinstance(info.value, InventoryError)


def test_bad_ssh_config_for_other_hosts_is_ignored(tmp_path: Path) -> None:
    defaults = write_ssh_config(tmp_path, "Host other\n  Port abc\n")
    assert one("h\n", defaults).port == 22


# --------------------------------------------------------------------------- describe & files


def test_describe_is_json_ready() -> None:
    described = inv("[g]\nh:2022 ansible_user=u key=/k x=1\n").describe("g", defaults=NO_SSH)
    assert described == [
        {
            "name": "h",
            "address": "h",
            "port": 2022,
            "user": "u",
            "connection": "ssh",
            "key_files": ["/k"],
            "proxy_jump": None,
            "groups": ["g"],
            "vars": {"ansible_port": "2022", "ansible_user": "u", "key": "/k", "x": "1"},
        }
    ]
    json.dumps(described)


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
