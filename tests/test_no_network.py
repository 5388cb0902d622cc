"""Issue 6: `convert` and `validate` never open a connection, even when documents name remote
JSON-LD contexts (another site, file:///etc/passwd, 127.0.0.1, @import).

Two independent guards, each first shown to catch a real attempt:
- in process: socket.connect/connect_ex/create_connection/getaddrinfo patched to record and refuse;
- in a child process (and any worker it forks or spawns): a sitecustomize.py installs an audit hook
  (sys.addaudithook) that logs every socket.connect, socket.getaddrinfo, socket.gethostbyname and
  urllib.Request event to a file, so nothing a library does around our patches goes unseen.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIGURES, SEEDS

from rdfexport.cli import main

CASES = Path(__file__).resolve().parent / "bad_inputs"
CONTEXT_CASES = sorted(p for p in CASES.glob("context_*") if p.is_dir())
# Good figures of both generations, with genes, chemicals and disease tables and lists.
GOOD = ["PMC100003__mb2410470011", "PMC10031279__gr8", "PMC10029719__cs3c00075_0011",
        "PMC1052008__JCI0524178.f1"]
REMOTE_URLS = ["https://example.org/context.jsonld", "file:///etc/passwd",
               "http://127.0.0.1:8080/context.jsonld"]


class Refused(OSError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Record every attempt to reach the network, and refuse it."""
    attempts: list[str] = []

    def refuse(what):
        def guard(*args, **kwargs):
            attempts.append(f"{what}{args[1:] if what.startswith('socket.socket') else args}")
            raise Refused(f"network access attempted: {what}")
        return guard

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("socket.gethostbyname"))
    return attempts


def test_the_in_process_guard_catches_real_attempts(no_network):
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:9/context.jsonld", timeout=1)
    from pyld import jsonld

    with pytest.raises(Exception):  # noqa: B017 - pyld wraps the refusal in its own error
        jsonld.expand({"@context": "http://127.0.0.1:9/ctx.jsonld", "@id": "x"},
                      {"documentLoader": jsonld.requests_document_loader(timeout=1)})
    assert len(no_network) >= 2, no_network


def inputs() -> list[str]:
    assert CONTEXT_CASES, "tests/bad_inputs/context_* cases are missing"
    good = [FIGURES / f"{figid}.md" for figid in GOOD]  # inside the sample: tables are read
    return [*map(str, good), str(SEEDS / "000_01b0406e482cf21b.txt"), *map(str, CONTEXT_CASES)]


@pytest.mark.parametrize("command", [
    ["convert", "-o", "{tmp}/out.nq", "--jobs", "1"],
    ["convert", "-o", "{tmp}/out.ttl", "--jobs", "1", "--engine", "pyld", "--no-validate"],
    ["validate", "-o", "{tmp}/report.txt", "--jobs", "1"],  # workers: the audit-hook test
], ids=["convert", "convert-pyld", "validate"])
def test_commands_never_connect_even_for_remote_contexts(command, no_network, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, [args[0], *inputs(), *args[1:]])
    assert no_network == [], no_network
    assert result.exit_code == 2, result.output  # the remote-context files are refused...
    for case in CONTEXT_CASES:
        assert str(case) in result.stderr, f"{case.name} not reported"
    for url in REMOTE_URLS:
        assert url in result.stderr
    assert "Traceback" not in result.output


SITECUSTOMIZE = textwrap.dedent('''
    import os, sys
    _LOG = os.environ["RDFEXPORT_NET_LOG"]
    _WATCHED = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                "socket.gethostbyaddr", "urllib.Request", "http.client.connect"}

    def _hook(event, args):
        if event in _WATCHED:
            with open(_LOG, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {event} {args!r}\\n")
            raise OSError(f"network access attempted: {event}")

    sys.addaudithook(_hook)
''')


def run_guarded(tmp_path: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "net.log"
    log.touch()
    env = {**os.environ, "RDFEXPORT_NET_LOG": str(log),
           "PYTHONPATH": os.pathsep.join([str(hook_dir), *filter(None, [
               os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    return done, log.read_text()


def test_the_audit_hook_catches_real_attempts(tmp_path):
    code = ("import urllib.request as u\ntry:\n"
            "    u.urlopen('http://127.0.0.1:9/', timeout=1)\n"
            "except OSError:\n    pass\n")
    done, log = run_guarded(tmp_path, ["-c", code])
    assert done.returncode == 0, done.stderr
    assert "urllib.Request" in log or "socket.connect" in log, log


@pytest.mark.parametrize("command", [
    ["convert", "-o", "{tmp}/out.nq", "--jobs", "2"],
    ["validate", "-o", "{tmp}/report.txt", "--jobs", "2"],
], ids=["convert-workers", "validate-workers"])
def test_commands_never_connect_seen_by_an_audit_hook(command, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    done, log = run_guarded(tmp_path, ["-m", "rdfexport", args[0], *inputs(), *args[1:]])
    assert log == "", log
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    for url in REMOTE_URLS:
        assert url in done.stderr
