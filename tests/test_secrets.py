"""Issue 6: the store password comes only from $RDFEXPORT_PASSWORD and never shows in standard
output, standard error, log records or error messages, even when the server is hostile.

The server side is a loopback proxy started by the test in front of a real Oxigraph server: it
demands HTTP Basic authentication with the test password, records every request it receives, and
in "echo" mode answers every request with an error page quoting the request's headers (as some
servers' debug pages do), which rdfexport quotes in its error message.
"""

from __future__ import annotations

import base64
import http.client
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import FIGURES
from servers import oxigraph_server  # noqa: F401

from rdfexport.cli import main

USER = "curator"
SECRET = "Pw-7f3c9a1e-hush"  # distinctive: no false positives from other text
TOKEN = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
LEAKS = (SECRET, TOKEN, SECRET.replace("-", "%2D"))
FIGURE = str(FIGURES / "PMC10031279__gr8.md")


class AuthProxy:
    """Basic-auth gate in front of an upstream server; records what it receives."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.mode = "forward"
        self.requests: list[tuple[str, str, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization")
                proxy.requests.append((self.command, self.path, auth))
                if proxy.mode == "echo":
                    page = (f"<html>debug: you sent Authorization: {auth} for {self.command} "
                            f"{self.path}\n{self.headers}</html>")
                    return self._reply(400, page.encode(), "text/html")
                if auth != f"Basic {TOKEN}":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="sparql"')
                    page = f"denied: you sent {auth!r}".encode()
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return None
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                                  timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("authorization", "host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                return None

            def _reply(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(oxigraph_server):  # noqa: F811
    p = AuthProxy(oxigraph_server.base)
    yield p
    p.close()


def invoke(args, password: str | None, caplog):
    env = {"RDFEXPORT_PASSWORD": password} if password is not None else {
        "RDFEXPORT_PASSWORD": None}
    with caplog.at_level(logging.DEBUG):
        logging.getLogger().setLevel(logging.DEBUG)
        for name in ("httpx", "httpcore", "urllib3", "rdfexport"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        result = CliRunner().invoke(main, args, env=env)
    return result


def assert_no_leak(result, caplog) -> None:
    seen = {"stdout": result.stdout, "stderr": result.stderr, "logs": caplog.text,
            "exception": repr(result.exception) if result.exception else ""}
    for where, text in seen.items():
        for leak in LEAKS:
            assert leak not in text, f"the password leaked into {where}: ...{text[-400:]}"


def load_args(endpoint: str, *extra: str) -> list[str]:
    return ["load", FIGURE, "--endpoint", endpoint, "--server-type", "oxigraph", "--user", USER,
            "--auth", "basic", "--no-validate", "--retries", "0", *extra]


def test_no_command_takes_a_password_option():
    for name, command in main.commands.items():
        for param in command.params:
            words = " ".join([param.name or "", *getattr(param, "opts", [])]).lower()
            assert not any(w in words for w in ("password", "passwd", "secret", "token")), (
                f"`rdfexport {name}` has {param.opts}: passwords come from the environment only")
    result = CliRunner().invoke(main, ["load", FIGURE, "--password", SECRET])
    assert result.exit_code == 2 and SECRET not in result.output


def test_the_password_from_the_environment_is_sent_and_never_shown(proxy, caplog):
    result = invoke(load_args(proxy.base + "/query"), SECRET, caplog)
    assert result.exit_code == 0, result.output
    sent = [auth for _, _, auth in proxy.requests]
    assert sent and f"Basic {TOKEN}" in sent, "the password from the environment was not used"
    assert_no_leak(result, caplog)


def test_wrong_password_error_does_not_show_either_password(proxy, caplog):
    result = invoke(load_args(proxy.base + "/query"), SECRET + "-wrong", caplog)
    assert result.exit_code == 3, result.output
    assert "RDFEXPORT_PASSWORD" in result.stderr
    for leak in (SECRET, base64.b64encode(f"{USER}:{SECRET}-wrong".encode()).decode()):
        assert leak not in result.output and leak not in caplog.text


def test_a_server_quoting_the_request_does_not_make_rdfexport_print_the_password(proxy, caplog):
    proxy.mode = "echo"
    result = invoke(load_args(proxy.base + "/query"), SECRET, caplog)
    assert result.exit_code == 3, result.output
    assert "HTTP 400" in result.stderr  # the server's page is quoted...
    assert any(auth == f"Basic {TOKEN}" for _, _, auth in proxy.requests)
    assert_no_leak(result, caplog)  # ...but not the credentials in it


def test_a_password_written_into_the_endpoint_url_is_never_shown(proxy, caplog):
    base = urlsplit(proxy.base)
    endpoint = f"http://{USER}:{SECRET}@{base.netloc}/query"
    result = invoke(["load", FIGURE, "--endpoint", endpoint, "--server-type", "oxigraph",
                     "--no-validate", "--retries", "0"], None, caplog)
    assert result.exit_code == 2, result.output
    assert "has a password written into its URL" in result.stderr
    assert "RDFEXPORT_PASSWORD" in result.stderr
    assert not proxy.requests, "a request was sent with the password from the URL"
    assert_no_leak(result, caplog)


def test_query_errors_do_not_show_the_password(proxy, caplog):
    result = invoke(["query", "--endpoint", proxy.base + "/query", "--server-type", "oxigraph",
                     "--user", USER, "--auth", "basic", "SELECT * WHERE { ?s ?p }"], SECRET,
                    caplog)
    assert result.exit_code in (2, 3), result.output
    assert_no_leak(result, caplog)
