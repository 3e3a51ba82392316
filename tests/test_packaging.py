"""The install an operator does: NOVA built as a wheel and sdist, installed non-editable from the lock.

The wheel is built from the sdist (``python -m build``), installed with ``pip --require-hashes -r
requirements.lock`` plus ``--no-deps`` into a new venv outside the repo, and every command then
runs from that venv with the working directory outside the repo, so nothing can come from the
source tree: the migrations and hooks must be in the package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLE_STATE, ROOT


def _run(cmd, *, cwd, env=None, timeout=900):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv dir, wheel path, sdist path): NOVA's wheel installed from the lock into a fresh venv."""
    base = tmp_path_factory.mktemp("install")
    dist = base / "dist"
    built = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=base)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(dist.glob("nova_memory-*.whl"))
    sdist = next(dist.glob("nova_memory-*.tar.gz"))
    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-qq"]
    deps = _run([*pip, "--require-hashes", "-r", str(ROOT / "requirements.lock")], cwd=base, timeout=1500)
    assert deps.returncode == 0, deps.stderr[-3000:]
    nova = _run([*pip, "--no-deps", str(wheel)], cwd=base)
    assert nova.returncode == 0, nova.stderr[-3000:]
    return venv, wheel, sdist


def _nova_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVA_", "OPENCLAW_", "PYTHON"))}
    env["NOVA_HOME"] = str(home)
    return env


def _package_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.name != "__init__.py"}


def test_wheel_and_sdist_carry_the_migrations_hooks_and_templates(installed):
    import tarfile
    import zipfile

    _, wheel, sdist = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    # Every module of the package (pyproject.toml lists its subpackages one by one: a new one left
    # out would be missing from every install but the editable one).
    for module in (ROOT / "nova").rglob("*.py"):
        assert f"nova/{module.relative_to(ROOT / 'nova')}" in names
    for rel in _package_files(ROOT / "sql") | {"__init__.py"}:
        assert f"nova/sql/{rel}" in names
    for rel in _package_files(ROOT / "hooks"):
        assert f"nova/hooks/{rel}" in names
    for template in (ROOT / "nova" / "ui" / "templates").glob("*.html"):  # the memory browser's pages
        assert f"nova/ui/templates/{template.name}" in names
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        members = set(tar.getnames())
    for rel in ("requirements.lock", "pyproject.toml"):
        assert f"{top}/{rel}" in members


def test_the_installed_wheel_runs_migrate_catchup_recall_and_the_hook_install(installed, tmp_path):
    venv, _, _ = installed
    bin_dir = venv / "bin"
    env = _nova_env(tmp_path / "nova-home")
    work = tmp_path / "elsewhere"
    work.mkdir()

    where = _run([str(bin_dir / "python"), "-c", "import nova; print(nova.__file__)"], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # not the repo's source tree

    migrated = _run([str(bin_dir / "nova"), "migrate"], cwd=work, env=env)
    assert migrated.returncode == 0, migrated.stderr
    shipped = sorted(p.name for p in (ROOT / "sql").glob("*.sql"))
    assert migrated.stdout.strip() == "applied: " + ", ".join(shipped)

    state = tmp_path / "openclaw-state"
    shutil.copytree(EXAMPLE_STATE, state)
    caught = _run([str(bin_dir / "nova"), "catchup", "--openclaw-dir", str(state), "--json"], cwd=work, env=env)
    assert caught.returncode == 0, caught.stderr[-3000:]
    report = json.loads(caught.stdout)
    assert report["entries_new"] > 0 and report["episodes_new"] > 0, report

    recalled = _run([str(bin_dir / "nova"), "recall", "--agent", "main", "--json", "Where is Dana moving to?"],
                    cwd=work, env=env)
    assert recalled.returncode == 0, recalled.stderr[-3000:]
    items = json.loads(recalled.stdout)["items"]
    assert any("Hamburg" in item["text"] for item in items), items
    assert all(item["sources"] for item in items)

    scratch = tmp_path / "scratch-openclaw"
    scratch.mkdir()
    hooked = _run([str(bin_dir / "nova"), "install-hooks", "--openclaw-dir", str(scratch)], cwd=work, env=env)
    assert hooked.returncode == 0, hooked.stderr
    for name in ("memory-extract", "semantic-recall", "session-init", "nova-lib", "nova-recall-plugin"):
        assert _package_files(ROOT / "hooks" / name) <= _package_files(scratch / "hooks" / name), name
        for rel in _package_files(ROOT / "hooks" / name):
            assert (scratch / "hooks" / name / rel).read_bytes() == (ROOT / "hooks" / name / rel).read_bytes()
    config = json.loads((scratch / "openclaw.json").read_text())
    assert config["hooks"]["internal"]["entries"]["memory-extract"] == {"enabled": True}
    unhooked = _run([str(bin_dir / "nova"), "uninstall-hooks", "--openclaw-dir", str(scratch)], cwd=work, env=env)
    assert unhooked.returncode == 0, unhooked.stderr
    assert not (scratch / "hooks" / "memory-extract").exists()
    assert "nova-recall" not in json.dumps(json.loads((scratch / "openclaw.json").read_text()))


def test_an_install_without_its_migrations_says_so(installed, tmp_path):
    """A package that lost its sql/ must fail with the cause, never migrate an empty schema."""
    venv, _, _ = installed
    site = next((venv / "lib").glob("python3*/site-packages"))
    sql = site / "nova" / "sql"
    aside = tmp_path / "sql-aside"
    aside.mkdir()
    for path in sql.glob("*.sql"):
        shutil.move(path, aside / path.name)
    try:
        done = _run([str(venv / "bin" / "nova"), "migrate"], cwd=tmp_path, env=_nova_env(tmp_path / "nova-home"))
    finally:
        for path in aside.glob("*.sql"):
            shutil.move(path, sql / path.name)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "no SQL migrations" in done.stderr and "reinstall" in done.stderr
