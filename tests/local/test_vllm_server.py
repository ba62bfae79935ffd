"""VllmServer: start-up through container/serve, readiness, errors and clean stop (a fake engine, no vLLM)."""

import json
import os
import sys
import time
from pathlib import Path

import pytest

from local import server_process
from local.server_process import http_ok
from local.vllm_server import VllmServer, VllmServerError

# `python3` of the fake venv: runs `serve` (its shebang asks for python3) with the real interpreter, and
# stands in for the engine when called as `python3 -m vllm...`.
FAKE_PYTHON = f"""#!/bin/bash
if [ "$1" = "-m" ]; then shift 2; exec {sys.executable} "$FAKE_ENGINE" "$@"; fi
exec {sys.executable} "$@"
"""

REPO_ROOT = Path(__file__).resolve().parents[2]

# Serves /ping like vLLM (the tests' scripted server) after FAKE_DELAY seconds, records what it was given,
# and starts a worker child in its process group (as vLLM does) that only a group-wide stop ends.
FAKE_ENGINE = """
import json, os, subprocess, sys, time
sys.path.insert(0, os.environ["FAKE_REPO_ROOT"])
from tests.support.scripted_server import ScriptedServer
args = sys.argv[1:]
record = {"args": args, "kv": os.environ.get("VLLM_CPU_KVCACHE_SPACE")}
record["device"] = os.environ.get("SERVE_DEVICE")
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
record["worker"] = worker.pid
with open(os.environ["FAKE_RECORD"], "w") as f:
    json.dump(record, f)
if os.environ.get("FAKE_FAIL"):
    print("engine boom: out of memory", flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("FAKE_DELAY", "0")))
ScriptedServer(port=int(args[args.index("--port") + 1])).serve_forever()
"""


@pytest.fixture
def fake_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    api_server = venv / "lib/python3.11/site-packages/vllm/entrypoints/openai/api_server.py"
    api_server.parent.mkdir(parents=True)
    api_server.write_text("")
    python = venv / "bin" / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    engine = tmp_path / "fake_engine.py"
    engine.write_text(FAKE_ENGINE)
    monkeypatch.setenv("FAKE_ENGINE", str(engine))
    monkeypatch.setenv("FAKE_REPO_ROOT", str(REPO_ROOT))
    monkeypatch.setenv("FAKE_RECORD", str(tmp_path / "record.json"))
    return venv


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return model


def record(tmp_path: Path) -> dict[str, object]:
    return dict(json.loads((tmp_path / "record.json").read_text()))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited


def test_starts_vllm_through_serve_with_cpu_settings(
    fake_venv: Path, model_dir: Path, tmp_path: Path
) -> None:
    with VllmServer(model_dir, venv=fake_venv, startup_timeout=20) as server:
        port = server.port
        assert server.base_url == f"http://127.0.0.1:{port}"
    given = record(tmp_path)
    assert given["args"] == [
        "--model",
        str(model_dir.resolve()),
        "--tensor-parallel-size",
        "1",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "llama3_json",
        "--served-model-name",
        "model",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--enforce-eager",
    ]
    assert (given["kv"], given["device"]) == ("1", "cpu")


def test_the_model_profile_picks_vllms_parsers_through_serve(
    fake_venv: Path, model_dir: Path, tmp_path: Path
) -> None:
    with VllmServer(model_dir, venv=fake_venv, startup_timeout=20, profile="qwen3"):
        pass
    args = record(tmp_path)["args"]
    assert isinstance(args, list)
    assert args[args.index("--tool-call-parser") + 1] == "hermes"
    assert args[args.index("--reasoning-parser") + 1] == "qwen3"


def test_waits_for_ping_before_returning(
    fake_venv: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DELAY", "1.5")
    started = time.monotonic()
    with VllmServer(model_dir, venv=fake_venv, startup_timeout=20) as server:
        assert time.monotonic() - started >= 1.5
        assert server.running


def test_stop_leaves_no_process_behind(fake_venv: Path, model_dir: Path, tmp_path: Path) -> None:
    with VllmServer(model_dir, venv=fake_venv, startup_timeout=20):
        worker = int(str(record(tmp_path)["worker"]))
        assert alive(worker)
    assert not alive(worker)


def test_engine_dying_at_start_reports_its_last_log_lines(
    fake_venv: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(VllmServerError) as raised:
        VllmServer(model_dir, venv=fake_venv, startup_timeout=20).start()
    assert "vLLM exited with code 3 while starting" in str(raised.value)
    assert "engine boom: out of memory" in str(raised.value)
    assert not alive(int(str(record(tmp_path)["worker"])))


def test_startup_timeout_stops_the_server_and_says_so(
    fake_venv: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_DELAY", "60")
    started = tmp_path / "record.json"

    def ping_once_the_engine_runs(url: str) -> bool:
        # On a loaded machine `serve` may take longer than the timeout to start the engine; the timeout must
        # stop an engine that has started its worker, so the readiness check first waits for the engine.
        deadline = time.monotonic() + 60
        # The engine writes its small record in one buffered write, when it closes the file.
        while not (started.exists() and started.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        return http_ok(url)

    monkeypatch.setattr(server_process, "http_ok", ping_once_the_engine_runs)
    with pytest.raises(VllmServerError, match=r"did not answer /ping within 2 s"):
        VllmServer(model_dir, venv=fake_venv, startup_timeout=2).start()
    assert not alive(int(str(record(tmp_path)["worker"])))


def test_missing_venv_says_how_to_create_it(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(VllmServerError, match=r"no vLLM in .*requirements-vllm\.txt"):
        VllmServer(model_dir, venv=tmp_path / "absent").start()


def test_model_dir_without_config_is_refused(fake_venv: Path, tmp_path: Path) -> None:
    with pytest.raises(VllmServerError, match=r"has no config\.json"):
        VllmServer(tmp_path, venv=fake_venv).start()
