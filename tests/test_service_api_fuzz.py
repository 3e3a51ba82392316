"""The service's HTTP API fuzzed with schemathesis against its own OpenAPI spec.

Valid and invalid requests for every operation: never a 5xx, responses conform to the spec,
every malformed request gets a 4xx that says what is wrong, and a rejected request changes
nothing in the store. (schemathesis' pytest plugin does not load under pytest 9 here, so the
operations' hypothesis strategies are driven directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given, settings as hsettings
from schemathesis import GenerationMode

from conftest import long_run, row_counts, runtime_with


@pytest.fixture
def api(settings, state_dir, store, embedder, projector):
    from nova.serve.app import create_app

    rt = runtime_with(settings, embedder, projector, openclaw_dir=state_dir)
    # No ingest worker: accepted messages stay pending (catch-up's job), which keeps counts exact.
    app = create_app(rt, start_worker=False)
    yield schemathesis.openapi.from_asgi("/openapi.json", app), store
    rt.close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_fails_and_rejects_bad_input_cleanly(api, mode):
    schema, store = api
    operations = [r.ok() for r in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/messages", "/v1/recall", "/v1/bootstrap", "/v1/health"}
    seen = {"2xx": 0, "4xx": 0}
    for op in operations:
        if mode == GenerationMode.NEGATIVE and op.method.upper() == "GET":
            continue  # nothing to get wrong in a request without a body or parameters
        @hsettings(max_examples=500 if long_run() else 40)
        @given(case=op.as_strategy(generation_mode=mode))
        def check(case):
            before = row_counts(store)
            response = case.call_and_validate()
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                seen["4xx"] += 1
                assert response.json().get("detail"), response.text  # says what is wrong
                assert row_counts(store) == before
            else:
                seen["2xx"] += 1

        check()
    print(f"{mode.value}: {seen}")
    assert seen["4xx" if mode == GenerationMode.NEGATIVE else "2xx"] > 0
