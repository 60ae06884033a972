"""What the image does, without an image: no registry is reachable here to pull deploy/Dockerfile's base (buildah
itself builds without a daemon), so this builds the wheel as the Dockerfile's first stage does, installs it into a
clean venv of the system Python, and runs the stack's container command (deploy/oncall-agent.yaml) as the
unprivileged user `nobody`: the config arrives in AGENT_CONFIG_YAML as ECS injects it, /healthz and /readyz
answer, and SIGTERM ends `serve` with status 0.

The wheel is installed without its dependencies (they would be downloaded): the venv sees this test
environment's site-packages through a .pth file, after its own, so `oncall_agent` is imported from the wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from cfnlint.decode import cfn_yaml

from tests.e2e.harness import free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")  # the pyenv interpreter lives under /root, which `nobody` cannot enter
NOBODY = 65534
DATA_DIR_IN_IMAGE = "/var/lib/oncall-agent"


def as_nobody(*command: str) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command]


def container_command() -> str:
    template = cfn_yaml.load(str(REPO / "deploy" / "oncall-agent.yaml"))
    (container,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert container["EntryPoint"] == ["/bin/sh", "-c"]
    return str(container["Command"][0])


@pytest.fixture()
def workdir() -> Iterator[Path]:
    """A folder `nobody` can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="oncall-image-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def build_and_install(workdir: Path) -> Path:
    wheels = workdir / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)], check=True)
    (wheel,) = wheels.glob("oncall_agent-*.whl")
    venv = workdir / "venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_serves_as_nobody_with_the_stack_command(moto_endpoint: str, workdir: Path) -> None:
    if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
        pytest.fail("needs Debian's python3 and setpriv (util-linux)")
    dependencies = sysconfig.get_paths()["purelib"]
    if subprocess.run(as_nobody("test", "-r", dependencies, "-a", "-x", dependencies), check=False).returncode:
        pytest.skip(f"`nobody` cannot read this environment's packages at {dependencies}")
    venv = build_and_install(workdir)
    data = workdir / "data"
    data.mkdir()
    os.chown(data, NOBODY, NOBODY)
    port = free_port()
    config = {
        "aws": {
            "regions": ["us-east-1"],
            "endpoint_url": moto_endpoint,
            "credentials": {"access_key_id": "testing", "secret_access_key": "testing"},
        },
        "http": {"host": "127.0.0.1", "port": port},
        "store": {"url": f"sqlite:///{data / 'oncall-agent.db'}"},
    }
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(data),
        "AGENT_CONFIG_YAML": yaml.safe_dump(config),
    }
    log = workdir / "serve.log"
    command = container_command().replace(DATA_DIR_IN_IMAGE, str(data))
    with log.open("w") as stderr:
        process = subprocess.Popen(as_nobody("/bin/sh", "-c", command), env=env, cwd=data, stdout=stderr, stderr=stderr)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"serve exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ready, "serve from the wheel to be ready", timeout=90)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
        status = Path(f"/proc/{process.pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert set(uids) == {str(NOBODY)}  # `sh` exec'd into serve: the same process, never root
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert str(venv / "bin" / "oncall-agent").encode() in cmdline
        written = data / "oncall-agent.yaml"
        assert written.stat().st_uid == NOBODY
        assert written.stat().st_mode & 0o077 == 0  # umask 077: the config (it may hold tokens) is private
        in_wheel = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import oncall_agent; print(oncall_agent.__file__)"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=data,  # neither PYTHONPATH nor the checkout on the path
        ).stdout
        assert in_wheel.startswith(str(venv))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
