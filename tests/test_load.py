"""A bounded loopback load test of nova serve (bench/load_service.py): 50 requests/s from 4
processes for 10 s (60 s with --long). No error, every message extracted, no memory growth."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, long_run


def test_service_holds_50_requests_per_second(settings, state_dir, tmp_path):
    seconds = 60 if long_run() else 10
    env = dict(os.environ, NOVA_DATABASE_URL=settings.database_url)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load_service.py"), "--json", "--rate", "50",
                           "--seconds", str(seconds), "--state", str(state_dir), "--home", str(tmp_path / "home")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print({k: report[k] for k in ("throughput_rps", "errors", "latency", "rss_mb", "extraction")})
    assert done.returncode == 0 and report["errors"] == 0, report["error_examples"]
    assert report["requests"] >= 0.95 * 50 * seconds          # the service kept up with the offered rate
    assert report["extraction"]["failed"] == 0 and report["extraction"]["queued"] == 0
    assert report["extraction"]["projected"] == report["latency"]["message"]["n"]
    assert report["rss_growth_second_half_mb"] < 64, report["rss_series"]
