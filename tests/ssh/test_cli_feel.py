"""The CLI as the ops tools feel: trailing words, --version, completion, the built-in
default from any directory, ad-hoc lists, and output that never rewrites what hosts sent."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cliutil import hostpool


def test_version(tmp_path: Path) -> None:
    done = hostpool("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("hostpool ")


def test_completion_script_is_generated(tmp_path: Path) -> None:
    done = hostpool("--show-completion", "bash", cwd=tmp_path, env={"SHELL": "/bin/bash"})
    assert done.returncode == 0, done.stderr
    assert "complete" in done.stdout and "hostpool" in done.stdout.lower()


def test_built_in_default_from_any_directory_and_trailing_words(tmp_path: Path) -> None:
    done = hostpool("exec", "-o", "json", "echo", "hello", "world", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert (result["host"], result["stdout"]) == ("localhost", "hello world\n")
    dashed = hostpool("exec", "-o", "json", "--", "ls", "-d", "/tmp", cwd=tmp_path)
    assert json.loads(dashed.stdout)["results"][0]["stdout"] == "/tmp\n"


def test_options_end_at_the_command(tmp_path: Path) -> None:
    # `echo -n` is the command's option, not hostpool's.
    done = hostpool("exec", "-o", "json", "echo", "-n", "x", cwd=tmp_path)
    assert json.loads(done.stdout)["results"][0]["stdout"] == "x"


def test_ad_hoc_lists_take_users_ports_and_ranges(tmp_path: Path) -> None:
    done = hostpool("hosts", "-i", "deploy@web[01:03]:2222,db1,", "--json", cwd=tmp_path)
    hosts = json.loads(done.stdout)
    assert [(h["name"], h["user"], h["port"]) for h in hosts] == [
        ("web01", "deploy", 2222),
        ("web02", "deploy", 2222),
        ("web03", "deploy", 2222),
        ("db1", None, 22),
    ]


def test_a_single_name_that_is_not_a_file_gets_a_hint(tmp_path: Path) -> None:
    done = hostpool("hosts", "-i", "web1", cwd=tmp_path)
    assert done.returncode == 3 and "for one host, write 'web1,'" in done.stderr


def test_table_keeps_what_hosts_printed(tmp_path: Path) -> None:
    done = hostpool("exec", "--", "printf '12.10\\n007\\n1e3\\n'", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "12.10 (+2 lines)" in done.stdout
    listed = hostpool("hosts", "-i", "007,1e3:2222,", cwd=tmp_path)
    assert " 007 " in listed.stdout and "1e3" in listed.stdout and "2222" in listed.stdout
