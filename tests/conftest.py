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


# --- Full layout: a synthetic cohort as ICFES's national files write it (synth's default layout) ------------------

FULL_LAYOUT_ROWS = 12_000  # synthetic students of the full-layout tests
FULL_LAYOUT_PERIODS = (20183, 20195)  # two periods: the later one is the test set


@pytest.fixture(scope='session')
def full_layout_raw():
    "The raw full-layout file of FULL_LAYOUT_ROWS synthetic students (text, as `estudiapp synth` writes it)"
    from estudiapp_core.synth import synthesize
    return synthesize(FULL_LAYOUT_ROWS, seed=21, periods=FULL_LAYOUT_PERIODS)


@pytest.fixture(scope='session')
def full_layout_cohort(full_layout_raw):
    "Its clean table, with the shipped homicide context joined (CONTEXT_RATE) as `estudiapp run` does"
    from estudiapp_core.context import homicide_context
    from estudiapp_core.ingest import ingest_frame
    return ingest_frame(full_layout_raw, context=homicide_context()).table


@pytest.fixture(scope='session')
def full_layout_model(full_layout_cohort):
    "The full-layout cohort's temporal split, fitted preprocessor, matrices, models and serving bundle (built in memory)"
    import json
    from types import SimpleNamespace
    from estudiapp_core.bundle import BUNDLE_MODEL, BUNDLE_SPEC, MODEL_CARD, ServingBundle, bundle_files
    from estudiapp_core.classifier import LowScoreClassifier
    from estudiapp_core.linear import fit_linear
    from estudiapp_core.preprocess import TARGET, build_preprocessor, low_score_label, temporal_split
    split = temporal_split(full_layout_cohort, seed=0)
    pre = build_preprocessor(split.train).fit(split.train)
    X = {k: pre.transform(getattr(split, k)) for k in ('train', 'valid', 'test')}
    linear = fit_linear(X['train'], split.train[TARGET].to_numpy(), X['valid'], split.valid[TARGET].to_numpy())
    classifier = LowScoreClassifier(max_depth=3, learning_rate=0.2).fit(
        X['train'], low_score_label(split.train).to_numpy(), X['valid'], low_score_label(split.valid).to_numpy())
    from estudiapp_core.context import homicide_context
    files = bundle_files(pre, linear, classifier, {'model_version': 'full-layout'}, context=homicide_context())
    bundle = ServingBundle(json.loads(files[BUNDLE_SPEC]), files[BUNDLE_MODEL], json.loads(files[MODEL_CARD]))
    return SimpleNamespace(split=split, pre=pre, X=X, linear=linear, classifier=classifier, files=files, bundle=bundle)


def raw_students(clean)->list[dict]:
    "Clean rows as a client sends them: text and numbers, blanks as None, the derived columns left for serving to compute"
    rows = clean.drop(columns=[c for c in ('AGE', 'FAMI_EDUCACION_MAX', 'TUITION_BAND', 'FOREIGN_NATIONAL') if c in clean])
    students = rows.astype(object).where(rows.notna(), None).to_dict('records')
    for i, s in enumerate(students):  # spelled as files and clients do: DD/MM/YYYY, INSE as text, NSE3
        if s.get('ESTU_FECHANACIMIENTO') is not None: s['ESTU_FECHANACIMIENTO'] = s['ESTU_FECHANACIMIENTO'].strftime('%d/%m/%Y')
        if i % 2 and s.get('ESTU_INSE_INDIVIDUAL') is not None: s['ESTU_INSE_INDIVIDUAL'] = str(s['ESTU_INSE_INDIVIDUAL'])
        if i % 3 == 0 and s.get('ESTU_NSE_INDIVIDUAL') is not None: s['ESTU_NSE_INDIVIDUAL'] = 'NSE' + s['ESTU_NSE_INDIVIDUAL']
    return students
