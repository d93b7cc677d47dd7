"""Fuzzing the API from its own OpenAPI document (schemathesis): generated requests, valid and invalid, against the app
on real artifacts and a real database; no answer may be a 5xx or break the documented schema. A small budget runs
here; `make fuzz` (tools/fuzz_api.py) runs at least 5,000 requests against `estudiapp serve`."""
import warnings
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, negative_data_rejection, not_a_server_error,
                                 response_headers_conformance, response_schema_conformance, status_code_conformance)

warnings.filterwarnings('ignore', message='.*httpx.*')
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]  # tools/fuzz_api.py says why positive_data_acceptance is not
EXAMPLES = 6  # per operation and generation mode: about 190 requests over the 16 operations


@pytest.fixture(scope='module')
def api_schema(serving_store, stats_database):
    "The app's own OpenAPI document, bound to the app (in-process ASGI calls)"
    from estudiapp_core.api import create_app
    from estudiapp_core.config import get_settings
    from estudiapp_core.serving import Serving
    from estudiapp_core.store import open_store
    serving = Serving(open_store(serving_store), settings=get_settings(DATABASE_URL=stats_database)).load()
    yield schemathesis.openapi.from_asgi('/openapi.json', create_app(serving))
    serving.close()


OPERATIONS = ['POST /v1/predict', 'GET /v1/model', 'GET /health', 'GET /v1/stats/departments', 'GET /v1/stats/institutions',
              'GET /v1/stats/trend', 'GET /v1/stats/social-factors', 'GET /v1/stats/risk', 'GET /v1/stats/summary',
              'GET /v1/stats/institution-ranking', 'GET /v1/stats/department-factors', 'GET /v1/stats/nationalities',
              'GET /v1/stats/homicides', 'POST /predictLinear',
              'POST /predictXgboost', 'POST /getFeatures']


def test_every_operation_is_fuzzed():
    from estudiapp_core.api import openapi_document
    paths = openapi_document()['paths']
    assert sorted(OPERATIONS) == sorted(f'{m.upper()} {p}' for p, ops in paths.items() for m in ops)


# schemathesis' pytest plugin (from_fixture) does not run on pytest 9, so each operation's strategy is drawn here
WITHOUT_INPUT = ('GET /v1/model', 'GET /health')  # nothing to make invalid


@pytest.mark.parametrize('operation, mode', [(o, m) for o in OPERATIONS for m in GenerationMode
                                             if not (m == GenerationMode.NEGATIVE and o in WITHOUT_INPUT)])
def test_api_fuzz(api_schema, operation, mode):
    method, path = operation.split()
    strategy = api_schema[path][method].as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(case): case.call_and_validate(checks=CHECKS)
    run()
