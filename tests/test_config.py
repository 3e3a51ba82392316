"""Settings as an operator sets them: environment variables over ``$NOVA_HOME/nova.toml``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nova.config import load_settings


def test_an_empty_variable_means_the_default(monkeypatch, tmp_path):
    # Before: NOVA_STATIC_MODEL= was the path "." (catch-up failed: "no model2vec model in .").
    monkeypatch.setenv("NOVA_STATIC_MODEL", "")
    monkeypatch.setenv("NOVA_DATABASE_URL", "")
    s = load_settings(home=tmp_path)
    assert s.static_model is None and s.database_url is None


def test_a_set_variable_is_read_and_a_bad_one_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("NOVA_STATIC_MODEL", str(tmp_path / "m2v"))
    assert load_settings(home=tmp_path).static_model == tmp_path / "m2v"
    monkeypatch.setenv("NOVA_EMBEDDED_SHARED_BUFFERS", "lots")
    with pytest.raises(ValidationError, match="embedded_shared_buffers"):
        load_settings(home=tmp_path)
