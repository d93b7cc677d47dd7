"""The REST API on the artifacts of a real (small) run and a real PostgreSQL: every route, the error contract, the seed's
response shape checked against pandas, the committed OpenAPI document, and `estudiapp serve` as a user runs it."""
import json, os, socket, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np
import pytest

warnings.filterwarnings('ignore', message='.*httpx.*')  # starlette's TestClient on httpx 0.28
from fastapi.testclient import TestClient
from estudiapp_core.api import create_app, openapi_document, openapi_text
from estudiapp_core.config import get_settings
from estudiapp_core.serving import EXAMPLE_STUDENT, MAX_BATCH, Serving, frame_json
from estudiapp_core.store import open_store

ROOT = Path(__file__).resolve().parents[1]
STUDENT = json.loads(json.loads((ROOT/'lambda'/'events'/'predict_one_v1.json').read_text())['body'])
ERROR_KEYS = {'status', 'error', 'message', 'fields'}


@pytest.fixture(scope='module')
def serving(serving_store, stats_database):
    "The serving state of the small run's artifacts, with the test database"
    serving = Serving(open_store(serving_store), settings=get_settings(DATABASE_URL=stats_database)).load()
    yield serving
    serving.close()


@pytest.fixture(scope='module')
def client(serving):
    return TestClient(create_app(serving), raise_server_exceptions=False)


def test_openapi_committed_copy_is_current():
    committed = (ROOT/'openapi.json').read_text(encoding='utf-8')
    assert committed == openapi_text(), 'openapi.json is stale: run `estudiapp serve --openapi openapi.json`'


def test_openapi_and_docs_are_served(client):
    assert client.get('/openapi.json').json() == openapi_document()
    docs = client.get('/docs')
    assert docs.status_code == 200 and 'swagger' in docs.text.lower()


# --- predictions --------------------------------------------------------------------------------------------------

def test_predict_one_matches_the_bundle(client, serving):
    r = client.post('/v1/predict', json=STUDENT)
    assert r.status_code == 200
    [answer] = r.json()['predictions']
    student = {**STUDENT, 'ESTU_DEPTO_RESIDE': 'BOGOTÁ', 'ESTU_INSE_INDIVIDUAL': 48.5}  # as the API reads them: BOGOTA repaired, INSE a number
    [direct] = serving.bundle.predict([student], top_k=3, omitted='unknown')  # a field left out is unknown, not blank
    assert same(answer, json.loads(json.dumps(direct)))
    assert len(answer['reasons']) == 3 and answer['score_interval'][0] <= answer['predicted_score'] <= answer['score_interval'][1]
    assert answer['risk_band'] == ('high' if answer['low_score_probability'] >= 0.8 else answer['risk_band'])


def test_predict_batch_keeps_order_and_top_k(client):
    students = [STUDENT, FEW, {**FEW, 'ESTU_GENERO': None}]
    r = client.post('/v1/predict?top_k=1', json=students)
    assert r.status_code == 200
    answers = r.json()['predictions']
    assert len(answers) == 3 and all(len(a['reasons']) == 1 for a in answers)
    singles = [client.post('/v1/predict?top_k=1', json=s).json()['predictions'][0] for s in students]
    assert same(answers, singles)  # up to rounding: a batch's matrix product may round the last digit differently
    assert client.post('/v1/predict?top_k=0', json=FEW).json()['predictions'][0]['reasons'] == []


FEW = {'FAMI_ESTRATOVIVIENDA': 'Estrato 1', 'ESTU_INSE_INDIVIDUAL': 35.2, 'ESTU_HORASSEMANATRABAJA': 'Más de 30 horas',
       'FAMI_EDUCACIONPADRE': 'Primaria incompleta', 'INST_CARACTER_ACADEMICO': 'TÉCNICA PROFESIONAL',
       'ESTU_METODO_PRGM': 'DISTANCIA', 'ESTU_DEPTO_RESIDE': 'CHOCO', 'ESTU_FECHANACIMIENTO': '02/08/1994', 'PERIODO': '20195'}
FULL_STUDENT = {**STUDENT, 'ESTU_INSE_INDIVIDUAL': 31.5, 'ESTU_NSE_INDIVIDUAL': 'NSE1', 'ESTU_AREARESIDE': 'Area Rural',
                'ESTU_SEMESTRECURSA': 9, 'ESTU_DEDICACIONLECTURADIARIA': 'No leo por entretenimiento',
                'ESTU_DEDICACIONINTERNET': 'Más de 3 horas', 'FAMI_NUMLIBROS': '0 A 10 LIBROS', 'GRUPOREFERENCIA': 'EDUCACIÓN',
                'ESTU_EXTERIOR': 'NO', 'ESTU_NACIONALIDAD': 'VENEZUELA', 'CONTEXT_RATE': 3.9, 'INST_COD_INSTITUCION': 1101}


def test_predict_accepts_the_full_layouts_fields(client, full_layout_model, serving_store):
    # a model trained on the 57-column export takes them and ignores what it does not use
    assert client.post('/v1/predict', json=FULL_STUDENT).status_code == 200
    full = TestClient(create_app(Serving(open_store(serving_store), bundle=full_layout_model.bundle)), raise_server_exceptions=False)
    r = full.post('/v1/predict?top_k=10', json=[FULL_STUDENT, STUDENT])
    assert r.status_code == 200
    answers = r.json()['predictions']
    sent = {**FULL_STUDENT, 'ESTU_DEPTO_RESIDE': 'BOGOTÁ', 'ESTU_NSE_INDIVIDUAL': '1', 'ESTU_SEMESTRECURSA': '9', 'INST_COD_INSTITUCION': '1101'}
    assert same(answers, json.loads(json.dumps(full_layout_model.bundle.predict([sent, {**STUDENT, 'ESTU_DEPTO_RESIDE': 'BOGOTÁ', 'ESTU_INSE_INDIVIDUAL': 48.5}], top_k=10))))
    assert 'ESTU_INSE_INDIVIDUAL' in [reason['feature'] for reason in answers[0]['reasons']]
    assert answers[0]['low_score_probability'] > answers[1]['low_score_probability']  # a poorer, rural, reading-less profile
    fields = openapi_document()['components']['schemas']['Student']['properties']
    assert fields['ESTU_INSE_INDIVIDUAL']['anyOf'][0] == {'type': 'number', 'maximum': 100.0, 'minimum': 1.0}
    assert fields['ESTU_SEMESTRECURSA']['anyOf'][0]['enum'][-1] == '12 o más'
    assert fields['FOREIGN_NATIONAL']['anyOf'][0]['enum'] == ['No', 'Si'] and 'CONTEXT_RATE' in fields


def same(a, b)->bool:
    "Equal JSON values, floats up to 1e-9 relative"
    if isinstance(a, float) or isinstance(b, float): return a == pytest.approx(b, rel=1e-9)
    if isinstance(a, dict): return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list): return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def test_full_batch_is_accepted(client):
    r = client.post('/v1/predict?top_k=0', json=[STUDENT] * MAX_BATCH)
    assert r.status_code == 200 and len(r.json()['predictions']) == MAX_BATCH


def test_model_card_and_health(client, serving):
    assert client.get('/v1/model').json() == serving.bundle.model_card
    health = client.get('/health').json()
    assert health['status'] == 'ok' and health['model_version'] == serving.bundle.model_card.get('model_version')


# --- errors: status, JSON shape, the field named ------------------------------------------------------------------

BAD = [  # (method, path, body bytes or JSON, content type, status, fields named)
    ('post', '/v1/predict', b'{"PERIODO": "20195",', 'application/json', 400, []),
    ('post', '/v1/predict', b'\xff\xfe\x00', 'application/json', 400, []),
    ('post', '/v1/predict', {'NOMBRE': 'Ana'}, None, 422, ['NOMBRE']),
    ('post', '/v1/predict', {'ESTU_GENERO': 'X'}, None, 422, ['ESTU_GENERO']),
    ('post', '/v1/predict', {'FAMI_TIENEINTERNET': True}, None, 422, ['FAMI_TIENEINTERNET']),
    ('post', '/v1/predict', {'PERIODO': '2019'}, None, 422, ['PERIODO']),
    ('post', '/v1/predict', {'ESTU_FECHANACIMIENTO': '31/02/1999'}, None, 422, ['ESTU_FECHANACIMIENTO']),
    ('post', '/v1/predict', {'PUNT_GLOBAL': '301'}, None, 422, ['PUNT_GLOBAL']),
    ('post', '/v1/predict', {'ESTU_INSE_INDIVIDUAL': 101}, None, 422, ['ESTU_INSE_INDIVIDUAL']),
    ('post', '/v1/predict', {'ESTU_INSE_INDIVIDUAL': 'alto'}, None, 422, ['ESTU_INSE_INDIVIDUAL']),
    ('post', '/v1/predict', {'ESTU_SEMESTRECURSA': '13'}, None, 422, ['ESTU_SEMESTRECURSA']),
    ('post', '/v1/predict', {'FOREIGN_NATIONAL': 'quizás'}, None, 422, ['FOREIGN_NATIONAL']),
    ('post', '/v1/predict', {'CONTEXT_RATE': -2}, None, 422, ['CONTEXT_RATE']),
    ('post', '/v1/predict', [{}, {'ESTU_GENERO': 'F', 'X': 1}], None, 422, ['[1].X']),
    ('post', '/v1/predict', [{'PERIODO': '20191'}, {'PERIODO': '1'}], None, 422, ['[1].PERIODO']),
    ('post', '/v1/predict', [], None, 422, ['body']),
    ('post', '/v1/predict', 'BOGOTA', None, 422, ['body']),
    ('post', '/v1/predict', None, None, 422, ['body']),
    ('post', '/v1/predict', b'{"PERIODO": "20195"}', 'text/plain', 422, ['body']),
    ('post', '/v1/predict', [{}] * (MAX_BATCH + 1), None, 413, []),
    ('post', '/v1/predict', [{'X': 1}] * (MAX_BATCH + 1), None, 413, []),
    ('post', '/v1/predict?top_k=11', {}, None, 422, ['top_k']),
    ('post', '/v1/predict?top_k=dos', {}, None, 422, ['top_k']),
    ('get', '/v1/predict', None, None, 405, []),
    ('get', '/v2/predict', None, None, 404, []),
    ('post', '/predictLinear', b'departamento=BOGOTA', 'text/plain', 422, ['departamento']),
    ('post', '/getFeatures', b'department=ATLANTIS', 'text/plain', 422, ['department']),  # /predictLinear ignores it, as the original
    ('post', '/predictLinear', b'limit=100000', 'text/plain', 422, ['limit']),
    ('post', '/predictLinear', b'offset=-1', 'text/plain', 422, ['offset']),
    ('post', '/predictXgboost', b'filename=../manifest.json', 'text/plain', 404, ['filename']),
    ('post', '/predictXgboost', b'filename=/etc/passwd', 'text/plain', 404, ['filename']),
    ('post', '/getFeatures', b'BOGOTA', 'text/plain', 422, ['body']),
    ('post', '/getFeatures', b'top=0', 'text/plain', 422, ['top']),
    ('post', '/getFeatures', b'{"department": ', 'application/json', 422, ['body']),
    ('get', '/v1/stats/departments?period=20196', None, None, 422, ['period']),
    ('get', '/v1/stats/departments?period=abc', None, None, 422, ['period']),
    ('get', '/v1/stats/institutions?min_students=1', None, None, 422, ['min_students']),
    ('get', '/v1/stats/social-factors?factor=religion', None, None, 422, ['factor']),
    ('get', '/v1/stats/risk?by=institution&department=11', None, None, 422, ['department']),
    # issue 11: no input gives a 5xx. NUL once reached PostgreSQL, which refuses it in text: a 500
    ('get', '/v1/stats/departments?period=20661&department=%00%C3%97%3C', None, None, 422, ['department']),
    ('get', '/v1/stats/trend?department=bog%0Aota', None, None, 422, ['department']),
    ('get', '/v1/stats/summary?department=%FF%FE', None, None, 422, ['department']),  # not UTF-8
    ('get', '/v1/stats/homicides?%FF=1', None, None, 422, ['query']),
    ('get', '/v1/model?x=%00', None, None, 422, ['x']),
    ('get', '/v1/stats/departments?period=NaN', None, None, 422, ['period']),
    ('get', '/v1/stats/institutions?limit=1e400', None, None, 422, ['limit']),
    ('get', '/v1/stats/risk?limit=' + '9' * 5000, None, None, 422, ['limit']),
    ('post', '/v1/predict', {'INST_NOMBRE_INSTITUCION': 'UNIVERSIDAD\x00'}, None, 422, ['INST_NOMBRE_INSTITUCION']),
    ('post', '/v1/predict', [{}, {'ESTU_PRGM_ACADEMICO': 'DERECHO\x85'}], None, 422, ['[1].ESTU_PRGM_ACADEMICO']),
    ('post', '/v1/predict', {'PERIODO\x00': '20195'}, None, 422, ['body']),
    ('post', '/v1/predict', {**EXAMPLE_STUDENT, 'CONTEXT_RATE': False}, None, 422, ['CONTEXT_RATE']),  # make fuzz: a 200
    ('post', '/v1/predict', {**EXAMPLE_STUDENT, 'MOD_INGLES_PUNT': True}, None, 422, ['MOD_INGLES_PUNT']),
    ('post', '/v1/predict', b'{"MOD_INGLES_PUNT": NaN}', 'application/json', 422, ['MOD_INGLES_PUNT']),
    ('post', '/v1/predict', b'{"MOD_INGLES_PUNT": Infinity}', 'application/json', 422, ['MOD_INGLES_PUNT']),
    ('post', '/v1/predict', b'{"MOD_INGLES_PUNT": 1e400}', 'application/json', 422, ['MOD_INGLES_PUNT']),
    ('post', '/v1/predict', b'{"PERIODO": 1' + b'0' * 5000 + b'}', 'application/json', 400, []),  # past int's digit limit
    ('post', '/v1/predict', b'[' * 100_000 + b']' * 100_000, 'application/json', 400, []),  # past the parser's depth
    ('post', '/v1/predict', b'{"a":' * 5000 + b'1' + b'}' * 5000, 'application/json', 400, []),
    ('post', '/v1/predict', b'{"INST_NOMBRE_INSTITUCION": "\xff"}', 'application/json', 400, []),  # not UTF-8
    ('post', '/v1/predict', b' ' * 6_000_001, 'application/json', 413, []),
    ('post', '/v1/predict', b'PERIODO=20195', 'application/x-www-form-urlencoded', 422, ['body']),
    ('post', '/v1/predict', b'{"PERIODO": "20195"}', 'application/xml', 422, ['body']),
    ('post', '/predictLinear', b'department=%00', 'text/plain', 422, ['department']),
    ('post', '/predictXgboost', b'filename=%FF', 'text/plain', 422, ['filename']),
    ('post', '/predictLinear', b'{"department": NaN}', 'application/json', 422, ['department']),
    ('post', '/predictLinear', b'{"department": {"a": [1]}}', 'application/json', 422, ['department']),
    ('post', '/getFeatures', b'{"department": "BOGOTA\\u0000"}', 'application/json', 422, ['department']),
    ('post', '/getFeatures', b'x' * 6_000_001, 'text/plain', 413, []),
]

@pytest.mark.parametrize('method, path, body, content_type, status, fields', BAD, ids=[f'{b[1][:50]}-{b[4]}-{i}' for i, b in enumerate(BAD)])
def test_bad_input_is_a_json_4xx_naming_the_field(client, method, path, body, content_type, status, fields):
    kwargs = {}
    if isinstance(body, bytes): kwargs = {'content': body, 'headers': {'content-type': content_type}}
    elif body is not None or method == 'post': kwargs = {'json': body}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers['content-type'] == 'application/json'
    answer = r.json()
    assert set(answer) == ERROR_KEYS and answer['status'] == status
    assert [f['field'] for f in answer['fields']] == fields


def test_unavailable_artifacts_are_503(tmp_path, serving_store):
    "A tampered artifact is refused at load, and the API says so with a 503, not a 500"
    import shutil
    copy = tmp_path/'artifacts'
    shutil.copytree(serving_store, copy)
    (copy/'serving'/'bundle.json').write_text('{}')
    client = TestClient(create_app(Serving(open_store(copy))), raise_server_exceptions=False)
    r = client.post('/v1/predict', json=STUDENT)
    assert r.status_code == 503 and r.json()['error'] == 'unavailable'
    health = client.get('/health')
    assert health.status_code == 503 and health.json()['problem'] == r.json()['message']


def test_unavailable_answers_name_no_path_bucket_or_host(tmp_path, serving_store, caplog):
    "A 503 says what is unavailable; where (a folder, a bucket, a database host) goes to the log only"
    import shutil
    copy = tmp_path/'artifacts-zz-private'
    shutil.copytree(serving_store, copy)
    (copy/'serving'/'bundle.json').write_text('{}')
    database = 'postgresql://zz-user:zz-secret@127.0.0.1:1/zz-database?connect_timeout=1'  # nothing listens on port 1
    client = TestClient(create_app(Serving(open_store(copy), settings=get_settings(DATABASE_URL=database))),
                        raise_server_exceptions=False)
    answers = [client.post('/v1/predict', json=STUDENT), client.get('/health'), client.get('/v1/stats/trend'),
               client.post('/predictLinear', content=b'')]
    assert [a.status_code for a in answers] == [503] * 4
    for a in answers: assert 'zz-' not in a.text and 'bundle.json' not in a.text and 'SELECT' not in a.text, a.text
    assert 'zz-private' in caplog.text and 'zz-user' in caplog.text  # the operator still learns where


def test_internal_errors_are_generic_and_logged_without_values(serving_store, caplog):
    "An unexpected failure is a JSON 500 whose log names the route and the error type, never the student's values"
    serving = Serving(open_store(serving_store)).load()
    def broken(students, top_k=3, omitted='blank'): raise RuntimeError(f"cannot score {students[0].get('INST_NOMBRE_INSTITUCION')}")
    serving._bundle.predict = broken
    client = TestClient(create_app(serving), raise_server_exceptions=False)
    r = client.post('/v1/predict', json={'INST_NOMBRE_INSTITUCION': 'ZZ-SECRET-ZZ'})
    assert r.status_code == 500 and r.json() == {'status': 500, 'error': 'internal', 'message': 'internal error', 'fields': []}
    assert 'RuntimeError' in caplog.text and 'ZZ-SECRET-ZZ' not in caplog.text


# --- the seed's routes ----------------------------------------------------------------------------------------------

def table(response)->dict:
    assert response.status_code == 200, response.text
    assert set(response.json()) == {'data'} and isinstance(response.json()['data'], str)
    return json.loads(response.json()['data'])


def test_method_not_allowed_says_what_is(client):
    r = client.delete('/v1/predict')
    assert r.status_code == 405 and r.headers['allow'] == 'POST' and set(r.json()) == ERROR_KEYS


def test_cors_is_open_on_statistics_only_unless_origins_are_named(serving_store):
    page = {'origin': 'https://elsewhere.example', 'access-control-request-method': 'POST'}
    open_app = TestClient(create_app(Serving(open_store(serving_store), settings=get_settings({}))))
    assert open_app.get('/v1/stats/trend', headers=page).headers.get('access-control-allow-origin') == '*'
    assert 'access-control-allow-origin' not in open_app.options('/v1/predict', headers=page).headers
    named = get_settings(CORS_ORIGINS='https://dash.example.org, https://admin.example.org/')
    closed = TestClient(create_app(Serving(open_store(serving_store), settings=named)))
    assert 'access-control-allow-origin' not in closed.get('/v1/stats/trend', headers=page).headers
    admin = {**page, 'origin': 'https://admin.example.org'}
    assert closed.options('/v1/predict', headers=admin).headers['access-control-allow-origin'] == 'https://admin.example.org'


def test_frame_json_writes_what_pandas_writes():
    "frame_json (no pandas in the Lambda bundle) writes pandas' to_json(orient='index') byte for byte"
    import pandas as pd
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(150, 40, 20_000), rng.random(20_000), rng.random(5_000) * 1e-9,
                             10 ** rng.uniform(-25, 25, 10_000) * rng.choice([-1, 1], 10_000),
                             rng.random(5_000).astype(np.float32).astype(float), np.round(rng.random(5_000) * 300, 2),
                             [0.0, -0.0, 1.0, 0.5, 2.5, 1e-15, 1e-16, 1e16 - 1, 1e16, 9.99999999995, 0.99999999995,
                              -0.99999999995, 5e-11, 4.9e-11, 300.0, float('nan'), float('inf'), -float('inf')]])
    frame = pd.DataFrame({'score': values})
    assert frame_json({i: {'score': v} for i, v in enumerate(values.tolist())}) == frame.to_json(orient='index')
    rows = {0: {'feature': 'FAMI_ESTRATOVIVIENDA', 'value': 0.123456789012, 'quintile': 1, 'normalized_value': 1/3, 'ok': True},
            7: {'feature': 'BOGOTÁ a/b "q" \\ \n\t\x01 😀', 'value': float('nan'), 'quintile': 5, 'normalized_value': 2/3, 'ok': False},
            9: {'feature': None, 'value': np.float32(0.7), 'quintile': np.int64(0), 'normalized_value': 1.0, 'ok': True}}
    frame = pd.DataFrame.from_dict(rows, orient='index')
    frame['value'] = frame['value'].astype(float)
    assert frame_json(rows) == frame.to_json(orient='index')


def test_seed_predict_routes(client, serving):
    "The whole file, one `score` column, rows 0..n-1, the original's body bytes; department ignored, paging refused"
    dataset = serving.dataset(serving.settings.TEST_DATASET_V4)
    r = client.post('/predictLinear', content=b'filename=TEST_DATASET_V4', headers={'content-type': 'text/plain'})
    assert r.status_code == 200 and r.headers['content-type'] == 'application/json' and r.text.startswith('{"data": "{')
    linear = table(r)
    assert list(linear) == [str(i) for i in range(len(dataset))] and all(set(row) == {'score'} for row in linear.values())
    direct = serving.bundle.predict([dataset.student(3)], top_k=0)[0]
    assert linear['3']['score'] == pytest.approx(direct['predicted_score'], abs=1e-9)
    xgb = table(client.post('/predictXgboost', content=b''))
    assert list(xgb) == list(linear) and {row['score'] for row in xgb.values()} == {0, 1}
    some = [serving.bundle.predict([dataset.student(i)], top_k=0)[0] for i in range(20)]
    assert [xgb[str(i)]['score'] for i in range(20)] == [int(p['low_score_probability'] < 0.5) for p in some]
    for body in (b'department=VAUPES', b'filename=test_v4.csv', b'filename=TEST_DATASET_V4&department=BOGOTA'):
        assert client.post('/predictLinear', content=body).text == r.text, body
    form = client.post('/predictXgboost', data={'filename': 'TEST_DATASET_V4'})  # a form post reads the same
    assert form.status_code == 200 and table(form) == xgb
    for body, field in ((b'limit=5&offset=2', 'limit'), (b'top=3', 'top')):
        refused = client.post('/predictLinear', content=body)
        assert refused.status_code == 422 and refused.json()['fields'][0]['field'] == field
    assert client.post('/predictLinear', content=b'filename=nothing.csv').status_code == 404


def test_get_features_route(client, serving):
    "A department's six features per bin of P(high score), the department left out; BOGOTA by default"
    found = table(client.post('/getFeatures', content=b'department=ANTIOQUIA'))
    assert found and list(found) == [str(i) for i in range(len(found))]
    assert all(list(r) == ['feature', 'value', 'quintile', 'normalized_value'] for r in found.values())
    bins = [r['quintile'] for r in found.values()]
    assert bins == sorted(bins) and set(bins) <= {0, 1, 2, 3, 4} and max(bins.count(b) for b in set(bins)) <= 6
    assert 'ESTU_DEPTO_RESIDE' not in {r['feature'] for r in found.values()}
    for feature in {r['feature'] for r in found.values()}:
        mine = [r for r in found.values() if r['feature'] == feature]
        assert max(r['normalized_value'] for r in mine) == 1.0
        assert all(r['normalized_value'] == pytest.approx(r['value'] / max(m['value'] for m in mine)) for r in mine)
    assert client.post('/getFeatures').text == client.post('/getFeatures', content=b'department=BOGOTA').text
    unknown = client.post('/getFeatures', content=b'department=ATLANTIS')
    assert unknown.status_code == 422 and unknown.json()['fields'][0]['field'] == 'department'


def test_legacy_answer_too_large_is_413(serving_store, monkeypatch):
    "An answer over the 6 MB payload limit is a JSON 413 that says so and points to /v1/predict"
    import estudiapp_core.serving as serving_module
    monkeypatch.setattr(serving_module, 'PAYLOAD_LIMIT', 20_000)
    small = TestClient(create_app(Serving(open_store(serving_store)).load()))
    for _ in range(2):  # the second answer comes from the cache
        r = small.post('/predictLinear', content=b'filename=TEST_DATASET_V4')
        assert r.status_code == 413 and r.json()['error'] == 'answer_too_large', r.text
        assert '6 MB' in r.json()['message'] and '/v1/predict' in r.json()['message']
    assert small.post('/getFeatures', content=b'department=BOGOTA').status_code == 200


# --- dashboard statistics -------------------------------------------------------------------------------------------

def test_stats_routes(client, stats_database):
    from estudiapp_core import queries
    cases = {'/v1/stats/departments?period=20195': queries.departments(stats_database, period=20195),
             '/v1/stats/institutions?min_students=10&limit=3': queries.top_institutions(stats_database, min_students=10, limit=3),
             '/v1/stats/trend?department=Bogot%C3%A1': queries.score_trend(stats_database, 'Bogotá'),
             '/v1/stats/social-factors?factor=stratum': queries.social_factors(stats_database, factor='stratum'),
             '/v1/stats/risk?by=institution&limit=2': queries.risk_distribution(stats_database, by='institution', limit=2)}
    for path, expected in cases.items():
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.json() == {'rows': expected} and expected, path
    injected = client.get('/v1/stats/trend', params={'department': "x'; DROP TABLE estudiapp.exam_result; --"})
    assert injected.status_code == 422 and [f['field'] for f in injected.json()['fields']] == ['department'], injected.text
    assert client.get('/v1/stats/departments?period=20195').json()['rows']


def test_stats_without_a_database_are_503(serving_store):
    serving = Serving(open_store(serving_store), settings=get_settings({}))
    r = TestClient(create_app(serving)).get('/v1/stats/trend')
    assert r.status_code == 503 and 'DATABASE_URL' in r.json()['message']


def test_serving_modules_import_no_heavy_libraries():
    code = ('import sys, estudiapp_core.api, estudiapp_core.serving; '
            'print(sorted({"pandas", "sklearn", "shap", "xgboost", "psycopg2"} & set(sys.modules)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'


# --- estudiapp serve --------------------------------------------------------------------------------------------------

def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_estudiapp_serve(serving_store, stats_database, tmp_path):
    "The CLI serves every kind of route on the stored artifacts and the configured database, with the docs page"
    import httpx
    port = free_port()
    env = {**os.environ, 'DATABASE_URL': stats_database}
    server = subprocess.Popen([str(Path(sys.executable).parent/'estudiapp'), 'serve', '--port', str(port), '--store', str(serving_store)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(300):
            try:
                if httpx.get(f'{base}/health', timeout=1).status_code == 200: break
            except httpx.TransportError: pass
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.1)
        assert httpx.post(f'{base}/v1/predict', json=STUDENT).status_code == 200
        assert httpx.get(f'{base}/v1/stats/trend').json()['rows']
        assert httpx.post(f'{base}/getFeatures', content='department=BOGOTA').status_code == 200
        assert httpx.get(f'{base}/docs').status_code == 200
        assert httpx.get(f'{base}/openapi.json').json() == openapi_document()
    finally:
        server.terminate()
        log = server.communicate(timeout=20)[0]
    assert f'{base} (interactive docs: {base}/docs)' in log
    assert 'Estrato 2' not in log and 'BOGOTA' not in log.split('\n', 1)[1]  # access log lines carry no bodies


def test_estudiapp_serve_without_artifacts_is_a_clear_error(tmp_path, capsys):
    from estudiapp_core.cli import main
    assert main(['serve', '--store', str(tmp_path/'none')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'estudiapp run' in err


def test_estudiapp_serve_writes_the_openapi_document(tmp_path):
    from estudiapp_core.cli import main
    assert main(['serve', '--openapi', str(tmp_path/'o.json')]) == 0
    assert (tmp_path/'o.json').read_text(encoding='utf-8') == openapi_text()


def test_every_dashboard_question_has_a_stats_route_with_a_year_range(client, stats_database):
    from estudiapp_core import queries
    cases = {'/v1/stats/summary?year_from=2018&year_to=2019': queries.summary(stats_database, year_from=2018, year_to=2019),
             '/v1/stats/summary?year_from=2018&by_year=true&department=Antioquia':
                 queries.summary(stats_database, year_from=2018, by_year=True, department='05'),
             '/v1/stats/institution-ranking?year_from=2018&min_students=10&limit=3':
                 queries.institution_ranking(stats_database, year_from=2018, min_students=10, limit=3),
             '/v1/stats/department-factors?year_from=2018&department=11&factor=program_method':
                 queries.department_factors(stats_database, year_from=2018, department='11', factor='program_method'),
             '/v1/stats/nationalities?year_from=2018': queries.nationalities(stats_database, year_from=2018),
             '/v1/stats/homicides?year_from=2019&year_to=2019': queries.homicide_rates(stats_database, year_from=2019, year_to=2019),
             '/v1/stats/departments?year_from=2018&year_to=2019': queries.departments(stats_database, year_from=2018, year_to=2019),
             '/v1/stats/trend?year_from=2019': queries.score_trend(stats_database, year_from=2019)}
    for url, expected in cases.items():
        r = client.get(url)
        assert r.status_code == 200 and r.json()['rows'] == expected and expected, url
    assert {r['period'] for r in cases['/v1/stats/departments?year_from=2018&year_to=2019']} == {20183, 20195}
    assert len(cases['/v1/stats/homicides?year_from=2019&year_to=2019']) == 33
    paths = openapi_document()['paths']
    for route in ('summary', 'institution-ranking', 'department-factors', 'nationalities', 'homicides', 'departments',
                  'institutions', 'trend', 'social-factors', 'risk'):
        assert {'year_from', 'year_to'} <= {p['name'] for p in paths[f'/v1/stats/{route}']['get']['parameters']}, route


@pytest.mark.parametrize('url, field', [('/v1/stats/summary?year_from=2019&year_to=2018', 'year_to'),
                                        ('/v1/stats/homicides?year_from=1999', 'year_from'),
                                        ('/v1/stats/department-factors?factor=religion', 'factor'),
                                        ('/v1/stats/institution-ranking?min_students=2', 'min_students'),
                                        ('/v1/stats/nationalities?department=Atlantis', 'department')])
def test_bad_stats_ranges_are_422_naming_the_field(client, url, field):
    r = client.get(url)
    assert r.status_code == 422 and [f['field'] for f in r.json()['fields']] == [field], r.json()


# --- omitted is not blank (issue 11, section 2) ---------------------------------------------------------------------

def test_nothing_known_is_refused_naming_what_is_missing(client, serving):
    "`{}` and a student whose known fields carry less than half of the explanatory weight get a 422, not a prediction"
    bundle = serving.bundle
    heaviest = max(bundle.weights, key=bundle.weights.get)
    r = client.post('/v1/predict', json={})
    assert r.status_code == 422 and 'too little is known' in r.json()['message']
    fields = [f['field'] for f in r.json()['fields']]
    assert fields[0] == heaviest and set(fields) == set(bundle.group_names)  # every input, the heaviest first
    r = client.post('/v1/predict', json=[STUDENT, {'ESTU_GENERO': 'F', 'FAMI_TIENEINTERNET': None}])
    assert r.status_code == 422 and r.json()['fields'][0]['field'] == f'[1].{heaviest}'
    assert '[1].ESTU_GENERO' not in [f['field'] for f in r.json()['fields']]  # sent: known, even when blank


def explicit(serving, student:dict, filled:list)->dict:
    "The student with the neutral values of the inputs filled in for them, sent as answers"
    return {**student, **{name: serving.bundle.neutral[name] for name in filled}}


def test_a_few_answers_get_a_prediction_that_lists_what_was_filled_in(client, serving):
    r = client.post('/v1/predict?top_k=10', json=FEW)
    assert r.status_code == 200
    [answer] = r.json()['predictions']
    assert {'ESTU_GENERO', 'FAMI_TIENEINTERNET', 'INST_COD_INSTITUCION'} <= set(answer['filled_in'])
    assert not {'ESTU_INSE_INDIVIDUAL', 'AGE', 'FAMI_EDUCACION_MAX'} & set(answer['filled_in'])  # sent, or derived from what was
    assert 0.5 <= answer['known_weight'] < 1
    assert not {reason['feature'] for reason in answer['reasons']} & set(answer['filled_in'])  # no reason is a gap
    # the omission itself moves nothing: the same answer as sending the neutral values (read as a file reads them)
    [sent] = serving.bundle.predict([explicit(serving, FEW, answer['filled_in'])], top_k=0)
    assert sent['low_score_probability'] == pytest.approx(answer['low_score_probability'], abs=1e-12)
    assert sent['predicted_score'] == pytest.approx(answer['predicted_score'], abs=1e-9)
    assert serving.bundle.known_weight([]) == 1.0 and sent['filled_in'] == []


def test_null_is_a_blank_answer_and_keeps_its_meaning(client, serving):
    "A field sent as null or blank is a blank answer, as in a file: not filled in, and scored as the file's blank"
    [omitted] = client.post('/v1/predict', json=FEW).json()['predictions']
    for blank in (None, '', '  '):
        [answer] = client.post('/v1/predict', json={**FEW, 'FAMI_TIENEINTERNET': blank}).json()['predictions']
        assert answer['filled_in'] == [f for f in omitted['filled_in'] if f != 'FAMI_TIENEINTERNET']
        as_file = {**explicit(serving, FEW, answer['filled_in']), 'FAMI_TIENEINTERNET': None}
        [direct] = serving.bundle.predict([as_file], top_k=0)
        assert direct['low_score_probability'] == pytest.approx(answer['low_score_probability'], abs=1e-12)


def test_a_bundle_without_neutral_values_answers_as_before(serving_store, tmp_path):
    "An older bundle (no neutral values, no weights) still loads and treats a field left out as blank"
    import shutil
    from estudiapp_core.bundle import BUNDLE_SPEC, load_bundle
    copy = tmp_path/'artifacts'
    shutil.copytree(serving_store, copy)
    store = open_store(copy)
    spec = json.loads(store.load_verified(BUNDLE_SPEC))
    for key in ('neutral', 'mean_abs_shap'): del spec[key]
    store.publish({BUNDLE_SPEC: json.dumps(spec).encode()}, merge=True)
    old = load_bundle(store)
    r = TestClient(create_app(Serving(store, bundle=old)), raise_server_exceptions=False).post('/v1/predict', json={})
    assert r.status_code == 200
    [answer] = r.json()['predictions']
    assert answer['filled_in'] == [] and answer['known_weight'] is None
    assert same(answer, json.loads(json.dumps(old.predict([{}])[0])))


@pytest.mark.parametrize('field', ['AGE', 'CONTEXT_RATE'])
def test_a_huge_derived_number_is_refused_naming_it(client, field):
    "A derived number near the float limit overflowed the scaled features into a 500 (found by fuzzing): now a 422"
    r = client.post('/v1/predict', json={**STUDENT, field: 1e308})
    assert r.status_code == 422, r.text
    assert any(f['field'].endswith(field) for f in r.json()['fields']), r.json()
