"""The lazy known_hosts index: plain, hashed, wildcard, negated and marked lines."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from hostpool.known_hosts import KnownHosts, host_names


def hashed(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def index(text: str, tmp_path: Path) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return KnownHosts.load((str(path),))


def test_plain_and_port_names(tmp_path: Path) -> None:
    kh = index("web1,10.0.0.1 ssh-ed25519 AAAA1\n[web2]:2222 ssh-rsa AAAA2\n# c\n\n", tmp_path)
    assert [e.key for e in kh.lookup("web1")] == ["AAAA1"]
    assert [e.key for e in kh.lookup("10.0.0.1")] == ["AAAA1"]
    assert kh.lookup("web2") == []
    assert kh.known_types(host_names("web2", 2222)) == ["ssh-rsa"]
    assert host_names("h", 22) == "h"


def test_hashed_entries_match_only_their_host(tmp_path: Path) -> None:
    kh = index(f"{hashed('[db]:2200')} ssh-ed25519 AAAAH\n", tmp_path)
    assert [e.key for e in kh.lookup("[db]:2200")] == ["AAAAH"]
    assert kh.lookup("db") == []


def test_wildcards_and_negation(tmp_path: Path) -> None:
    kh = index("*.lab,!bad.lab ssh-ed25519 AAAAW\n", tmp_path)
    assert kh.lookup("a.lab")
    assert not kh.lookup("bad.lab")
    assert not kh.lookup("a.prod")


def test_markers(tmp_path: Path) -> None:
    kh = index("@revoked web ssh-ed25519 AAAAR\n@cert-authority * ssh-ed25519 AAAAC\n", tmp_path)
    (entry,) = kh.lookup("web")
    assert entry.marker == "@revoked"
    assert kh.known_types("web") == []


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert KnownHosts.load((str(tmp_path / "nope"),)).lookup("x") == []


def test_wildcards_follow_openssh_not_fnmatch(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(
        "[*.example.com]:2222 ssh-ed25519 AAAAport\n"
        "web[1] ssh-ed25519 AAAAliteral\n"
        "*.Example.ORG ssh-ed25519 AAAAcase\n"
    )
    known = KnownHosts.load((str(path),))
    assert [e.key for e in known.lookup("[web.example.com]:2222")] == ["AAAAport"]
    assert [e.key for e in known.lookup("web[1]")] == ["AAAAliteral"]
    assert known.lookup("web1") == []  # '[' is no character class
    assert [e.key for e in known.lookup("db.example.org")] == ["AAAAcase"]
