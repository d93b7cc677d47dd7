"Shared pytest fixtures of EstudiApp core: keep one section per service, each fixture documented."
import uuid
from pathlib import Path
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'  # real ICFES samples (read-only, may be absent)


# --- S3: a real local S3 endpoint (moto's server) ---------------------------------------------------------------

@pytest.fixture(scope='session')
def s3_endpoint():
    "URL of a moto S3 server on a free local port; sets AWS_ENDPOINT_URL_S3 and fake credentials for the session"
    from estudiapp_core.store import local_s3_server
    with local_s3_server() as endpoint: yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint):
    "Name of a new, empty bucket on the local S3 server (one per test)"
    import boto3
    name = f'estudiapp-test-{uuid.uuid4().hex[:12]}'
    boto3.client('s3', endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


# --- Serving: the artifacts of a small main-job run, and a database with its students ----------------------------

SERVING_ROWS = 6000  # synthetic students of the run the API tests serve (two periods; the later one is the test set)


@pytest.fixture(scope='session')
def serving_store(tmp_path_factory):
    "Folder of the artifacts of `estudiapp run` on a small synthetic cohort; ESTUDIAPP_TEST_STORE reuses an earlier one"
    import os
    if os.environ.get('ESTUDIAPP_TEST_STORE'): return Path(os.environ['ESTUDIAPP_TEST_STORE'])
    from estudiapp_core.cli import main
    out = tmp_path_factory.mktemp('serving')/'artifacts'
    saved = os.environ.pop('DATABASE_URL', None)  # the run must not load a developer's database
    try: assert main(['run', '--rows', str(SERVING_ROWS), '--seed', '7', '--store', str(out)]) == 0
    finally:
        if saved is not None: os.environ['DATABASE_URL'] = saved
    return out


@pytest.fixture(scope='session')
def stats_database(serving_store, pg_server):
    "URL of a database on the session's PostgreSQL holding a synthetic cohort and the served model's predictions for it"
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.load import load_synthetic
    url = pg_server.new_database('serving_stats')
    load_synthetic(url, rows=3000, seed=5, bundle=load_bundle(serving_store))
    return url


# --- PostgreSQL: a throwaway embedded server (estudiapp_core.pg) -------------------------------------------------

@pytest.fixture(scope='session')
def pg_server():
    "A throwaway embedded PostgreSQL 18 for the session, in a temporary directory; stopped and deleted afterwards"
    from estudiapp_core.pg import TemporaryPostgres
    with TemporaryPostgres() as server: yield server


@pytest.fixture
def pg_database(pg_server):
    "URL of a new, empty database on the session's PostgreSQL (one per test; no schema applied)"
    return pg_server.new_database(f'test_{uuid.uuid4().hex[:12]}')
