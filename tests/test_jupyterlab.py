"""`make lab` for real: the JupyterLab server it starts serves the lab, notebook 00 and a kernel.

The test starts exactly what `make lab` runs (`python -m labsupport lab`, headless, on a free port),
reads the tokened URL it prints, and then acts as the browser would: fetches the lab page and
notebook 00 over HTTP with the token, starts a kernel through the REST API, and executes a cell that
imports `labsupport` over the kernel's websocket. When Debian's chromium is installed it also loads
the lab URL headless, saves a screenshot under build/ and checks that the page rendered the notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from labsupport.measure import free_port
from labsupport.measure.paths import REPO_DIR, build_dir

pytestmark = pytest.mark.slow
URL = re.compile(r"(http://127\.0\.0\.1:\d+/lab\?token=[0-9a-f]+)")


@pytest.fixture(scope="module")
def lab_url():
    port = free_port()
    log_path = build_dir() / "jupyterlab-test.log"
    log = open(log_path, "w+b")  # noqa: SIM115 (read back while the server runs)
    proc = subprocess.Popen([sys.executable, "-m", "labsupport", "lab", "--port", str(port),
                             "--no-browser"], cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, url = time.monotonic() + 90, None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            found = URL.search(log_path.read_text(errors="replace"))
            url = found.group(1) if found else None
        assert url, f"JupyterLab printed no tokened URL; log:\n{log_path.read_text()[-3000:]}"
        assert f":{port}/" in url
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _split(url: str) -> tuple[str, str]:
    base, token = url.split("/lab?token=")
    return base, token


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_lab_page_is_served_with_the_token_and_refused_without(lab_url: str) -> None:
    base, token = _split(lab_url)
    status, body = _get(lab_url)
    assert status == 200 and b"JupyterLab" in body
    status, _ = _get(f"{base}/api/contents/notebooks")
    assert status == 403, "the contents API must refuse a request without the token"


def test_notebook_00_is_served(lab_url: str) -> None:
    base, token = _split(lab_url)
    status, body = _get(f"{base}/api/contents/notebooks/00_start_here.ipynb", token)
    assert status == 200
    model = json.loads(body)
    assert model["type"] == "notebook"
    first = "".join(model["content"]["cells"][0]["source"])
    assert first.startswith("# 00 · Start here")


def test_a_kernel_started_through_the_api_imports_labsupport(lab_url: str) -> None:
    import websocket  # websocket-client, declared in the test extra

    base, token = _split(lab_url)
    req = urllib.request.Request(f"{base}/api/kernels", data=b'{"name": "python3"}', method="POST",
                                 headers={"Authorization": f"token {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        kernel = json.loads(resp.read())
    ws_url = f"{base.replace('http', 'ws', 1)}/api/kernels/{kernel['id']}/channels?token={token}"
    ws = websocket.create_connection(ws_url, timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": "import labsupport, labsupport.labs\n"
                                "print(labsupport.__name__, len(labsupport.labs.LABS))",
                        "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False},
        }))
        out, status, deadline = "", None, time.monotonic() + 60
        while status is None and time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                pytest.fail(f"the cell raised: {msg['content']['ename']}: {msg['content']['evalue']}")
            elif msg["msg_type"] == "execute_reply":
                status = msg["content"]["status"]
    finally:
        ws.close()
        urllib.request.urlopen(urllib.request.Request(
            f"{base}/api/kernels/{kernel['id']}", method="DELETE",
            headers={"Authorization": f"token {token}"}), timeout=30).close()
    assert status == "ok"
    assert out.strip() == "labsupport 16"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_headless_chromium_renders_notebook_00(lab_url: str, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package chromium); the browser check is skipped")
    url = lab_url.replace("/lab?", "/lab/tree/notebooks/00_start_here.ipynb?")
    shot = build_dir() / "jupyterlab.png"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
             "--virtual-time-budget=30000"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=180)
    html = dom.stdout
    assert "jp-Notebook" in html, f"the lab page did not render a notebook:\n{html[:2000]}"
    assert "Start here" in html, "notebook 00's first cell is not on the rendered page"
    assert shot.exists() and shot.stat().st_size > 10_000, "no screenshot was saved"
