"""The small ssh_config reader: matching, first-wins, Include, Match, tokens, comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostpool.errors import ConfigError
from hostpool.inventory.sshconfig import SSHConfig, expand_tokens, strip_comment


def values(config: SSHConfig, host: str, key: str) -> list[str]:
    return [o.value for o in config.lookup(host).all(key)]


def first(config: SSHConfig, host: str, key: str) -> str | None:
    option = config.lookup(host).first(key)
    return option.value if option else None


def test_first_value_wins_across_blocks() -> None:
    config = SSHConfig.parse("Host web1\n  Port 2201\nHost web*\n  Port 2299\n  User w\n")
    assert first(config, "web1", "port") == "2201"
    assert first(config, "web1", "user") == "w"
    assert first(config, "web2", "port") == "2299"
    assert first(config, "db", "port") is None


def test_options_before_any_host_apply_to_all() -> None:
    config = SSHConfig.parse("User global\nHost x\n  User x\n")
    assert first(config, "x", "user") == "global"


def test_identity_files_accumulate_in_order() -> None:
    config = SSHConfig.parse("Host a\n IdentityFile /1\nHost *\n IdentityFile /2\n")
    assert values(config, "a", "IdentityFile") == ["/1", "/2"]
    assert values(config, "b", "identityfile") == ["/2"]


@pytest.mark.parametrize(
    ("patterns", "host", "matches"),
    [
        ("web*", "web1", True),
        ("web*", "db1", False),
        ("web?", "web1", True),
        ("web?", "web10", False),
        ("a b c", "b", True),
        ("*.example.com !bad.example.com", "good.example.com", True),
        ("*.example.com !bad.example.com", "bad.example.com", False),
        ("!bad", "good", False),  # a negation alone never matches
        ("WEB1", "web1", False),  # OpenSSH lowercases the host, not the pattern
        ("web[1]", "web1", False),  # '[' is literal in ssh_config
        ("web[1]", "web[1]", True),
        ("10.0.*", "10.0.3.4", True),
        ("*", "2001:db8::1", True),
    ],
)
def test_host_pattern_matching(patterns: str, host: str, matches: bool) -> None:
    config = SSHConfig.parse(f"Host {patterns}\n  Port 1\n")
    assert (first(config, host, "port") == "1") is matches


def test_keyword_forms_and_case() -> None:
    config = SSHConfig.parse('HOST=h\n  port=1\n  User = u\n  HostName\t"quoted name"\n')
    assert first(config, "h", "Port") == "1"
    assert first(config, "h", "user") == "u"
    assert first(config, "h", "hostname") == "quoted name"


def test_comments() -> None:
    config = SSHConfig.parse("# top\nHost h # trailing\n  User u#notcomment\n  # Port 9\n")
    assert first(config, "h", "user") == "u#notcomment"
    assert first(config, "h", "port") is None


def test_match_all_applies_and_other_match_forms_never_do() -> None:
    config = SSHConfig.parse(
        "Match host h exec 'rm -rf /'\n  User never\n"
        "Match all\n  Port 2222\n"
        "Match canonical all\n  HostName never\n"
    )
    assert first(config, "h", "user") is None
    assert first(config, "h", "port") == "2222"
    assert first(config, "h", "hostname") is None


def test_include_relative_to_include_dir_and_scoped(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("Host a\n  User ua\n")
    (tmp_path / "conf.d" / "b.conf").write_text("Port 2000\nHost b\n  User ub\n")
    main = tmp_path / "config"
    main.write_text("Host h\n  Include conf.d/*.conf\n  User uh\nHost *\n  User fallback\n")
    config = SSHConfig.load(main, include_dir=str(tmp_path))
    # The included top-level Port sits inside the including 'Host h' block.
    assert first(config, "h", "port") == "2000"
    assert first(config, "other", "port") is None
    # A Host block in the included file needs both its own and the outer patterns.
    assert first(config, "a", "user") == "fallback"
    # After the Include the outer block resumes.
    assert first(config, "h", "user") == "uh"


def test_include_at_top_level(tmp_path: Path) -> None:
    (tmp_path / "extra").write_text("Host a\n  User ua\n")
    main = tmp_path / "config"
    main.write_text(f"Include {tmp_path}/extra {tmp_path}/missing*\nHost *\n  User all\n")
    config = SSHConfig.load(main, include_dir="/nonexistent")
    assert first(config, "a", "user") == "ua"
    assert first(config, "b", "user") == "all"


def test_include_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "inc").write_text("User tilde\n")
    main = tmp_path / "config"
    main.write_text("Include ~/inc\n")
    assert first(SSHConfig.load(main), "x", "user") == "tilde"


def test_include_loop_is_an_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.write_text(f"Include {loop}\n")
    with pytest.raises(ConfigError, match="Include nested more than"):
        SSHConfig.load(loop)


def test_missing_file_is_empty(tmp_path: Path) -> None:
    config = SSHConfig.load(tmp_path / "absent")
    assert config.lookup("h").options == {}
    assert SSHConfig.empty().lookup("h").first("user") is None


def test_origins_point_at_lines(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("\nHost h\n  User u\n")
    option = SSHConfig.load(path).lookup("h").first("user")
    assert option is not None
    assert option.origin == f"{path}:3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Host h\n  User\n", "<string>:2: keyword 'User' has no value"),
        ("Host h\n  User 'open\n", "<string>:2: "),
        ('Host h\n  User ""\n', "<string>:2: keyword 'User' has no value"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        SSHConfig.parse(text)
    assert str(info.value).startswith(message)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read ssh config"):
        SSHConfig.load(tmp_path)  # a directory exists but is not readable as text


def test_expand_tokens() -> None:
    tokens = {"h": "host", "r": "root"}
    assert expand_tokens("~/.ssh/%r@%h-100%%", tokens, "x:1") == "~/.ssh/root@host-100%"
    with pytest.raises(ConfigError, match="x:1: unsupported token %q"):
        expand_tokens("%q", tokens, "x:1")
    with pytest.raises(ConfigError, match="unsupported token %"):
        expand_tokens("trailing%", tokens, "x:1")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a # c", "a "),
        ("# c", ""),
        ("a#b", "a#b"),
        ("a '# not' b", "a '# not' b"),
        ('a "x # y" # z', 'a "x # y" '),
        ("a \\# b", "a \\# b"),
    ],
)
def test_strip_comment(line: str, expected: str) -> None:
    assert strip_comment(line) == expected
