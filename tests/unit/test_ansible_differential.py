"""hostpool's inventories against ansible-core itself, in-process (no processes started).

For every corpus case (``ansible_corpus``): both accept or both refuse; then the hosts and
their order, every host's groups and variables, the connection hostpool resolves against
the one Ansible's ssh plugin would use (its templating included), and every pattern's host
list.  ansible-core is the oracle: its InventoryManager and VariableManager, exactly what
``ansible-inventory --list`` and ``ansible PATTERN --list-hosts`` use.  Deliberate
differences are listed in docs/inventory.md and marked in the corpus.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hostpool
from hostpool.errors import ConfigError, PatternError
from hostpool.inventory import HostDefaults, is_valid_host_name, patterns
from tests.unit.ansible_corpus import CASES, Case

_HOME = tempfile.mkdtemp(prefix="hostpool-ansible-")
Path(_HOME, "ansible.cfg").write_text("")
os.environ.update(
    ANSIBLE_HOME=_HOME,
    ANSIBLE_LOCAL_TEMP=_HOME,
    ANSIBLE_CONFIG=str(Path(_HOME, "ansible.cfg")),
    ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="True",
    ANSIBLE_LOCALHOST_WARNING="False",
    ANSIBLE_DEPRECATION_WARNINGS="False",
    ANSIBLE_HOST_PATTERN_MISMATCH="ignore",
)
ansible = pytest.importorskip(
    "ansible", reason="ansible-core is the oracle (pip install ansible-core)"
)

from ansible import constants as C  # noqa: E402
from ansible.errors import AnsibleError  # noqa: E402
from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402

INTERNAL = set(C.INTERNAL_STATIC_VARS) | {"omit"}
NO_SSH_CONFIG = HostDefaults(ssh_config=None)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@pytest.fixture
def case_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    case: Case = request.param
    for rel, text in case.files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def plain(value: Any) -> Any:
    """Ansible's tagged values as plain JSON-like data."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def ansible_view(case: Case) -> dict[str, Any] | str:
    loader = DataLoader()
    sources = [s if "," in s else str(Path.cwd() / s) for s in case.sources]
    try:
        with quiet():
            inventory = InventoryManager(loader=loader, sources=sources)
    except AnsibleError as exc:
        return f"refused: {str(exc).splitlines()[0]}"
    manager = VariableManager(loader=loader, inventory=inventory)
    hosts = [h.name for h in inventory.get_hosts("all")]
    facts: dict[str, Any] = {}
    for host in inventory.get_hosts("all"):
        with quiet():
            variables = manager.get_vars(host=host, include_hostvars=False, stage="all")
        user_vars = {k: plain(v) for k, v in variables.items() if k not in INTERNAL}
        facts[host.name] = {
            "groups": sorted(g.name for g in host.get_groups() if g.name != "all"),
            "vars": user_vars,
            "connection": connection(variables, host.name, loader),
        }
    return {"hosts": hosts, "facts": facts, "inventory": inventory}


def connection(variables: dict[str, Any], name: str, loader: DataLoader) -> tuple[Any, ...]:
    """What Ansible's ssh plugin connects to: the last set name of each option wins."""
    templar = Templar(loader=loader, variables=variables)

    def option(*names: str, default: Any = None) -> Any:
        found = [n for n in names if n in variables]
        if not found:
            return default
        try:
            with quiet():
                return plain(templar.template(variables[found[-1]]))
        except Exception:
            return "<template error>"

    return (
        str(option("ansible_host", "ansible_ssh_host", default=name)),
        int(option("ansible_port", "ansible_ssh_port", default=22)),
        option("ansible_user", "ansible_ssh_user"),
        str(option("ansible_connection", default="ssh")),
    )


CONNECTION_NAMES = {
    "ssh": "ssh",
    "smart": "ssh",
    "paramiko": "ssh",
    "local": "local",
    "community.docker.docker": "docker",
}


def hostpool_view(case: Case) -> hostpool.Inventory | str:
    try:
        return hostpool.load(list(case.sources))
    except ConfigError as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES], indirect=True)
def test_inventory_agrees_with_ansible(case_dir: Path, request: pytest.FixtureRequest) -> None:
    case: Case = request.node.callspec.params["case_dir"]
    oracle = ansible_view(case)
    ours = hostpool_view(case)
    if case.hardening:
        assert isinstance(ours, str), f"hostpool accepted ({case.hardening})"
        return
    assert isinstance(oracle, str) == isinstance(ours, str), (oracle, ours)
    if isinstance(oracle, str) or isinstance(ours, str):
        return
    assert ours.ordered_hosts() == oracle["hosts"]
    if not oracle["hosts"]:
        return
    described = {d["name"]: d for d in ours.describe("all", None, NO_SSH_CONFIG)}
    for host, fact in oracle["facts"].items():
        mine = described[host]
        assert sorted(mine["groups"]) == fact["groups"], host  # type: ignore[arg-type]
        assert mine["vars"] == fact["vars"], host
        if "unservable" in mine:
            continue  # refused per host, never guessed: checked in the next test
        address, port, user, conn = fact["connection"]
        assert (mine["address"], mine["port"], mine["user"]) == (address, port, user), host
        assert mine["connection"] == CONNECTION_NAMES[conn], host


def unservable_is_justified(fact: dict[str, Any]) -> bool:
    address, _, user, conn = fact["connection"]
    return (
        conn not in CONNECTION_NAMES
        or not is_valid_host_name(address)  # hardening: nothing odd reaches ssh
        or address.startswith("-")
        or "<template error>" in (address, user)
        or any(ch in str(user) for ch in ";|&$`")
        or "{" in str(fact["vars"].get("ansible_host", ""))
    )


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES], indirect=True)
def test_only_hosts_hostpool_cannot_serve_are_refused(
    case_dir: Path, request: pytest.FixtureRequest
) -> None:
    case: Case = request.node.callspec.params["case_dir"]
    oracle, ours = ansible_view(case), hostpool_view(case)
    if isinstance(oracle, str) or isinstance(ours, str) or not oracle["hosts"]:
        return
    for entry in ours.describe("all", None, NO_SSH_CONFIG):
        if "unservable" in entry:
            assert unservable_is_justified(oracle["facts"][entry["name"]]), entry


def ansible_hosts(inventory: InventoryManager, pattern: str, limit: str | None) -> list[str]:
    inventory.subset(limit)
    try:
        with quiet():
            return [h.name for h in inventory.get_hosts(pattern)]
    finally:
        inventory.subset(None)


def term_misses(inventory: InventoryManager, pattern: str) -> bool:
    """Whether Ansible would have warned that some term matched nothing."""
    return any(
        not ansible_hosts(inventory, t.lstrip("&!"), None) for t in patterns.split_pattern(pattern)
    )


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES], indirect=True)
def test_patterns_select_what_ansible_selects(
    case_dir: Path, request: pytest.FixtureRequest
) -> None:
    case: Case = request.node.callspec.params["case_dir"]
    oracle, ours = ansible_view(case), hostpool_view(case)
    if isinstance(oracle, str) or isinstance(ours, str):
        return
    inventory = oracle["inventory"]
    checks = [(p, None) for p in case.patterns] + list(case.limits)
    for pattern, limit in checks:
        expected = ansible_hosts(inventory, pattern, limit)
        try:
            got = patterns.select_names(ours, pattern, limit)
        except PatternError:
            # Documented hardening: a term that matches nothing is an error.
            assert (
                not expected
                or term_misses(inventory, pattern)
                or (limit is not None and term_misses(inventory, limit))
            ), (pattern, limit, expected)
            continue
        assert got == expected, (pattern, limit)
