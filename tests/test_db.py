"Database integration tests: schema, loader, views and queries against a real embedded PostgreSQL (no mocks)"
import json, subprocess, sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import pytest

from estudiapp_core import db, load, pg, queries
from estudiapp_core.bundle import risk_band
from estudiapp_core.cli import main
from estudiapp_core.core import BadInput
from estudiapp_core.ingest import ingest_files, ingest_frame
from estudiapp_core.schema import COLUMNS, DEPARTMENTS, PARENT_EDUCATION, TUITION_BANDS, YES_NO
from estudiapp_core.synth import synthesize

SHARED_DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'
TABLES = ('department', 'municipality', 'institution', 'program', 'exam_period', 'exam_result',
          'model_run', 'prediction', 'municipal_context', 'department_context')
VIEWS = ('department_scores', 'institution_scores', 'risk_by_area', 'score_trend', 'social_factors',  # 900_views.sql
         'institution_department', 'period_department_factors', 'period_department_totals', 'period_exam_place_totals',
         'period_institution_totals', 'period_nationality_totals', 'student_social_factors')  # 910_legacy_views.sql
INJECTION = "x'; DROP TABLE estudiapp.exam_result; --"


# --- data ----------------------------------------------------------------------------------------------------------

COHORT = dict(rows=3000, seed=3)  # the synthetic cohort of these tests: 3,000 students over two periods, with context rates


@pytest.fixture(scope='session')
def clean():
    "The clean table of the tests' synthetic cohort (the generator and the ingest)"
    return load.synthetic_run(**COHORT).clean


def make_predictions(clean:pd.DataFrame, seed:int=0)->pd.DataFrame:
    "Predictions in the layout of the serving contract (interval as a pair, reasons as dicts) for every student"
    rng = np.random.default_rng(seed)
    probability = rng.uniform(0, 1, len(clean))
    predicted = (clean['PUNT_GLOBAL'] + rng.normal(0, 12, len(clean))).round(1)
    return pd.DataFrame({
        'ESTU_CONSECUTIVO': clean['ESTU_CONSECUTIVO'].to_numpy(), 'PERIODO': clean['PERIODO'].to_numpy(),
        'predicted_score': predicted, 'score_interval': [[p - 25.0, p + 25.0] for p in predicted],
        'low_score_probability': probability,
        'risk_band': [risk_band(p) for p in probability],
        'reasons': [[{'feature': 'FAMI_ESTRATOVIVIENDA', 'value': 'Estrato 1', 'direction': 'raises',
                      'contribution': round(float(p), 3), 'text': 'the home is in stratum 1'}] for p in probability],
        'model_version': 'test-1'})


CARD = {'model_version': 'test-1', 'trained_at': '2026-01-15T10:00:00+00:00', 'metrics': {'auc': 0.81}}


def snapshot(url:str)->dict:
    "Every row of every table, as sorted text: equal snapshots mean the database holds the same rows"
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        out = {}
        for table in TABLES:
            cur.execute(f'SELECT t::text FROM estudiapp.{table} t ORDER BY 1')
            out[table] = [r[0] for r in cur.fetchall()]
    return out


def foreign_keys(url:str)->list:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'estudiapp'::regnamespace ORDER BY 1")
        return [r[0] for r in cur.fetchall()]


@pytest.fixture(params=['row by row', 'bulk'])
def load_path(request, monkeypatch):
    "Run a test with foreign keys checked row by row (small loads) and with the bulk path (drop, load, re-add)"
    monkeypatch.setattr(load, 'BULK_MIN_ROWS', 10**9 if request.param == 'row by row' else 1)
    return request.param


@pytest.fixture
def loaded(pg_database, clean):
    "A database of its own with the schema, the clean table and the generator's predictions (for tests that change it)"
    load.load_synthetic(pg_database, **COHORT)
    return pg_database


@pytest.fixture(scope='module')
def shared(pg_server, clean):
    "One loaded database shared by the tests that only read it, or whose loads must fail and leave it as it was"
    url = pg_server.new_database('test_shared_db')
    load.load_synthetic(url, **COHORT)
    return url


# --- schema --------------------------------------------------------------------------------------------------------

def test_schema_applies_to_empty_database_and_again_to_a_loaded_one(pg_database, clean):
    files = db.apply_schema(pg_database)
    assert files == ['000_schema.sql', '010_reference.sql', '020_results.sql', '030_models.sql', '040_context.sql',
                     '050_full_layout.sql', '060_view_state.sql', '900_views.sql', '910_legacy_views.sql']
    load.load_run(pg_database, clean, make_predictions(clean), CARD)
    before = snapshot(pg_database)
    assert db.apply_schema(pg_database) == files  # views dropped and rebuilt, tables kept
    assert snapshot(pg_database) == before
    assert len(queries.departments(pg_database, period=20195)) > 20  # rebuilt views hold the data again
    assert db.ensure_schema(pg_database) == []


def test_reference_rows_and_answer_types_match_the_schema_module(pg_database):
    db.apply_schema(pg_database)
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute('SELECT code, name FROM estudiapp.department')
        assert dict(cur.fetchall()) == DEPARTMENTS
        cur.execute("""SELECT a.attname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                       FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid
                       WHERE a.attrelid = 'estudiapp.exam_result'::regclass GROUP BY a.attname""")
        typed = dict(cur.fetchall())
    answers = {name: list(c.categories) for name, c in COLUMNS.items() if c.kind in ('category', 'ordinal')}
    answers.update(FAMI_EDUCACION_MAX=list(PARENT_EDUCATION), TUITION_BAND=list(TUITION_BANDS), FOREIGN_NATIONAL=list(YES_NO))
    stored = {name for name in answers if name.lower() in typed}
    assert stored >= {'ESTU_GENERO', 'FAMI_ESTRATOVIVIENDA', 'FAMI_TIENEINTERNET', 'ESTU_HORASSEMANATRABAJA', 'TUITION_BAND'}
    assert {name.lower(): answers[name] for name in stored} == typed


def test_ensure_enum_adds_new_answers_in_place_and_reapplying_keeps_them(pg_database):
    db.apply_schema(pg_database)
    levels = ['UNIVERSITARIO', 'TECNOLOGÍA', 'TÉCNICO PROFESIONAL', 'ESCUELA NORMAL SUPERIOR']
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute('SELECT estudiapp.ensure_enum(%s, %s)', ('program_level', ['DOCTORADO', *levels[:2], "MAESTRÍA 'NUEVA'", *levels[2:]]))
        conn.commit()
        db.apply_schema(conn)  # the file's shorter list adds nothing and removes nothing
        cur.execute('SELECT enum_range(NULL::estudiapp.program_level)::text[]')
        assert cur.fetchone()[0] == ['DOCTORADO', *levels[:2], "MAESTRÍA 'NUEVA'", *levels[2:]]


def test_a_broken_schema_file_stops_at_its_first_error_and_leaves_nothing(pg_database, tmp_path):
    (tmp_path/'000_ok.sql').write_text('CREATE SCHEMA IF NOT EXISTS estudiapp;\nCREATE TABLE estudiapp.kept (id int);\n')
    (tmp_path/'010_broken.sql').write_text("CREATE TABLE estudiapp.half (id int);\n-- a comment; with a semicolon\n"
                                           "INSERT INTO estudiapp.half VALUES (1);\nSELECT 'text; more' FROM\n  estudiapp.nowhere;\n")
    (tmp_path/'020_never.sql').write_text('CREATE TABLE estudiapp.never (id int);\n')
    with pytest.raises(db.SchemaError, match=r'010_broken.sql, statement 3 \(line 5\): relation "estudiapp.nowhere" does not exist'):
        db.apply_schema(pg_database, tmp_path)
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('estudiapp.kept'), to_regclass('estudiapp.half'), to_regclass('estudiapp.never')")
        assert cur.fetchone() == ('estudiapp.kept', None, None)


def test_every_materialized_view_has_a_unique_key_on_plain_columns(pg_database):
    db.apply_schema(pg_database)
    catalog = db.schema_catalog(pg_database)
    assert sorted(catalog['views']) == sorted(VIEWS)
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
                       WHERE c.relkind = 'm' AND x.indisunique AND x.indexprs IS NULL AND x.indpred IS NULL""")
        assert sorted(r[0] for r in cur.fetchall()) == sorted(VIEWS)


def test_er_diagram_is_drawn_from_the_catalog(pg_database):
    db.apply_schema(pg_database)
    catalog = db.schema_catalog(pg_database)
    assert {fk['ref_table'] for fk in catalog['foreign_keys'] if fk['table'] == 'exam_result'} == \
           {'department', 'municipality', 'institution', 'program', 'exam_period'}
    fig = db.er_diagram(catalog)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {'exam_result', 'prediction', 'department', 'municipal_context'} <= texts
    assert len(fig.axes[0].texts) > 60 and 'schema_file' not in texts


# --- loading -------------------------------------------------------------------------------------------------------

def test_load_fills_results_and_reference_tables(pg_database, clean, load_path):
    report = load.load_clean(pg_database, clean)
    assert (report['rows'], report['written'], report['periods']) == (len(clean), len(clean), [20183, 20195])
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute('SELECT count(*), count(program_id), count(DISTINCT inst_cod_institucion) FROM estudiapp.exam_result')
        results, with_program, institutions = cur.fetchone()
        cur.execute('SELECT count(*) FROM estudiapp.institution')
        assert cur.fetchone()[0] == institutions == clean['INST_COD_INSTITUCION'].nunique()
        cur.execute('SELECT count(*) FROM estudiapp.municipal_context')
        assert cur.fetchone()[0] > 0
        row = clean.iloc[17]
        cur.execute("""SELECT r.punt_global, r.fami_estratovivienda, r.estu_fechanacimiento, i.name, d.name
                       FROM estudiapp.exam_result r JOIN estudiapp.institution i ON i.code = r.inst_cod_institucion
                       LEFT JOIN estudiapp.department d ON d.code = r.estu_cod_reside_depto
                       WHERE estu_consecutivo = %s AND periodo = %s""", (row.ESTU_CONSECUTIVO, int(row.PERIODO)))
        stored = cur.fetchone()
    assert results == len(clean) and with_program == clean['ESTU_PRGM_ACADEMICO'].notna().sum()
    expected_department = None if pd.isna(row.ESTU_DEPTO_RESIDE) else row.ESTU_DEPTO_RESIDE
    assert stored == (row.PUNT_GLOBAL, row.FAMI_ESTRATOVIVIENDA, row.ESTU_FECHANACIMIENTO.date(),
                      row.INST_NOMBRE_INSTITUCION, expected_department)
    assert len(foreign_keys(pg_database)) == 11  # the bulk path put every key back


def test_loading_the_same_data_twice_leaves_the_same_rows(pg_database, clean, load_path):
    first = load.load_run(pg_database, clean, make_predictions(clean), CARD)
    before = snapshot(pg_database)
    again = load.load_run(pg_database, clean, make_predictions(clean), CARD)
    assert snapshot(pg_database) == before
    assert (again['results']['written'], again['results']['unchanged']) == (0, len(clean))
    assert again['predictions']['written'] == 0
    assert first['results']['written'] == first['predictions']['written'] == len(clean)


def test_an_unknown_answer_is_refused_with_its_row(pg_database, clean):
    bad = clean.head(5).astype({'FAMI_ESTRATOVIVIENDA': 'string'})
    bad.loc[2, 'FAMI_ESTRATOVIVIENDA'] = 'Estrato 9'
    with pytest.raises(BadInput, match=r"row 3 \(ESTU_CONSECUTIVO .*column FAMI_ESTRATOVIVIENDA: 'Estrato 9' is not one of"):
        load.load_clean(pg_database, bad)


def test_a_changed_file_updates_only_its_changed_rows(pg_database, clean, load_path):
    load.load_clean(pg_database, clean)
    changed = clean.copy()
    changed.loc[[3, 8], 'PUNT_GLOBAL'] = [299.0, 1.0]
    extra = ingest_frame(synthesize(50, seed=99, periods=(20203,))).table
    report = load.load_clean(pg_database, pd.concat([changed, extra], ignore_index=True))
    assert report['written'] == 2 + len(extra)
    assert queries.departments(pg_database, period=20203)  # the new period is in the views
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute('SELECT punt_global FROM estudiapp.exam_result WHERE estu_consecutivo = %s', (clean.ESTU_CONSECUTIVO[3],))
        assert cur.fetchone()[0] == 299.0


def _bad(clean, kind):
    "A table whose last of four rows breaks one constraint (the first three are valid and new)"
    rows = clean.head(4).copy().reset_index(drop=True)
    rows['ESTU_CONSECUTIVO'] = ['EKNEW1', 'EKNEW2', 'EKNEW3', 'EKNEW4']
    if kind == 'duplicate': rows.loc[3, ['ESTU_CONSECUTIVO', 'PERIODO']] = rows.loc[1, ['ESTU_CONSECUTIVO', 'PERIODO']].to_numpy()
    if kind == 'score out of range': rows.loc[3, 'MOD_INGLES_PUNT'] = 301.0
    if kind == 'negative global score': rows.loc[3, 'PUNT_GLOBAL'] = -5.0
    if kind == 'percentile out of range': rows.loc[3, 'PERCENTIL_GLOBAL'] = 0.0
    if kind == 'unknown department code': rows['ESTU_COD_RESIDE_DEPTO'] = rows['ESTU_COD_RESIDE_DEPTO'].astype('string'); rows.loc[3, 'ESTU_COD_RESIDE_DEPTO'] = '77'
    return rows


@pytest.mark.parametrize('kind, message', [
    ('duplicate', r'rows {r2} and {r4} repeat ESTU_CONSECUTIVO EKNEW2, PERIODO \d+: constraint exam_result_one_row_per_student_and_period allows one'),
    ('score out of range', r'row {r4} \(ESTU_CONSECUTIVO EKNEW4, PERIODO \d+\): MOD_INGLES_PUNT 301.0 breaks CHECK .*constraint exam_result_mod_ingles_punt_range'),
    ('negative global score', r'row {r4} \(ESTU_CONSECUTIVO EKNEW4, .*PUNT_GLOBAL -5.0 breaks .*exam_result_punt_global_range'),
    ('percentile out of range', r'row {r4} .*PERCENTIL_GLOBAL 0.0 breaks .*exam_result_percentil_global_range'),
    ('unknown department code', r"row {r4} \(ESTU_CONSECUTIVO EKNEW4, .*ESTU_COD_RESIDE_DEPTO '77' is not in department \(constraint exam_result_estu_cod_reside_depto_fkey"),
])
def test_a_row_that_breaks_a_constraint_is_named_and_nothing_is_loaded(shared, clean, load_path, kind, message):
    before = snapshot(shared)
    keys = foreign_keys(shared)
    changed = clean.assign(PUNT_GLOBAL=clean['PUNT_GLOBAL'].where(clean.index != 0, 123.0))  # a valid change that must not stick
    with pytest.raises(BadInput, match=message.replace('{r2}', str(len(clean) + 2)).replace('{r4}', str(len(clean) + 4)) + '.*nothing was loaded'):
        load.load_clean(shared, pd.concat([changed, _bad(clean, kind)], ignore_index=True))
    assert snapshot(shared) == before
    assert foreign_keys(shared) == keys


def test_bad_predictions_roll_back_the_whole_run(pg_database, clean):
    predictions = make_predictions(clean)
    predictions.loc[10, 'low_score_probability'] = 1.5
    with pytest.raises(BadInput, match=r'row 11 .*LOW_SCORE_PROBABILITY 1.5 breaks .*prediction_probability_range'):
        load.load_run(pg_database, clean, predictions, CARD)
    after = snapshot(pg_database)
    assert not any(after[t] for t in ('exam_result', 'prediction', 'model_run', 'institution', 'program', 'exam_period'))


def test_predictions_need_a_known_result_and_their_model_card(shared, clean):
    stranger = make_predictions(clean.head(2)).assign(ESTU_CONSECUTIVO=['EK-NOBODY', 'EK-NOBODY2'])
    with pytest.raises(BadInput, match=r"row 1 \(ESTU_CONSECUTIVO EK-NOBODY, .*is not in exam_result \(constraint prediction_of_a_known_result"):
        load.load_predictions(shared, stranger, CARD)
    with pytest.raises(BadInput, match='differs from the model card'):
        load.load_predictions(shared, make_predictions(clean.head(2)), {'model_version': 'other'})
    with pytest.raises(BadInput, match='no model_version'):
        load.load_predictions(shared, make_predictions(clean.head(2)), {'metrics': {}})


def test_the_latest_model_run_feeds_the_risk_views(loaded, clean):
    newer = make_predictions(clean, seed=5).assign(model_version='test-2', risk_band='low')
    load.load_predictions(loaded, newer, {**CARD, 'model_version': 'test-2', 'trained_at': '2026-02-01T00:00:00+00:00'})
    rows = queries.risk_distribution(loaded, period=20195)
    assert {r['model_version'] for r in rows} == {'test-2'} and {r['risk_band'] for r in rows} == {'low'}
    with closing(psycopg2.connect(loaded)) as conn, conn.cursor() as cur:
        cur.execute("SELECT reasons -> 0 ->> 'direction', score_low < predicted_score FROM estudiapp.prediction WHERE model_version = 'test-2' LIMIT 1")
        assert cur.fetchone() == ('raises', True)


def test_scores_of_the_real_model_load_as_written_by_estudiapp_score(pg_database, clean, serving_store, tmp_path):
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.scoring import score_frame, write_scores
    bundle = load_bundle(serving_store)
    write_scores(score_frame(clean, bundle, top_k=3), tmp_path/'scores.parquet')  # the file `estudiapp score` writes
    scores = pd.read_parquet(tmp_path/'scores.parquet')
    report = load.load_run(pg_database, clean, scores, bundle.model_card)
    assert report['predictions']['written'] == len(clean)
    with closing(psycopg2.connect(pg_database)) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*), min(jsonb_array_length(reasons)), bool_and(score_low <= predicted_score AND predicted_score <= score_high)
                       FROM estudiapp.prediction""")
        assert cur.fetchone() == (len(clean), 3, True)
        cur.execute('SELECT reasons -> 0 FROM estudiapp.prediction WHERE estu_consecutivo = %s', (scores.ESTU_CONSECUTIVO[0],))
        first = cur.fetchone()[0]
    assert first['feature'] == scores.reason_1[0] and first['direction'] in ('raises', 'lowers') and first['text']
    assert {r['model_version'] for r in queries.risk_distribution(pg_database)} == {bundle.model_card['model_version']}
    assert {r['risk_band'] for r in queries.risk_distribution(pg_database)} <= {'high', 'medium', 'low', 'very low'}


def test_real_icfes_sample_loads(pg_database):
    sample = SHARED_DATA/'saberpro_2018_2021_polijic_raw.csv'
    if not sample.exists(): pytest.skip('real ICFES sample not available')
    clean = ingest_files([sample]).table
    report = load.load_clean(pg_database, clean)
    assert report['written'] == len(clean) and 20183 in report['periods']
    antioquia = queries.departments(pg_database, period=20195, department='Antioquia')
    assert antioquia[0]['students'] > 100 and 0 < antioquia[0]['mean_score'] < 300
    assert queries.top_institutions(pg_database, period=20195)[0]['institution_code'] == '2209'


# --- views and queries ---------------------------------------------------------------------------------------------

def test_every_view_refreshes_concurrently_while_it_is_read(shared):
    reader = psycopg2.connect(shared)
    try:
        with reader.cursor() as cur:  # an open transaction that has read every view holds its lock
            for view in VIEWS: cur.execute(f'SELECT count(*) FROM estudiapp.{view}')
        refresher = psycopg2.connect(shared)
        with refresher.cursor() as cur: cur.execute("SET lock_timeout = '5s'")
        refresher.commit()
        assert sorted(load.refresh_views(refresher)) == sorted(VIEWS)  # CONCURRENTLY: not blocked by the reader
        with refresher.cursor() as cur, pytest.raises(psycopg2.errors.LockNotAvailable):
            cur.execute("SET lock_timeout = '200ms'; REFRESH MATERIALIZED VIEW estudiapp.score_trend")  # a plain refresh waits
        refresher.close()
    finally: reader.close()


def test_views_agree_with_pandas(shared, clean):
    published = clean[clean['PUNT_GLOBAL'].notna()]
    expected = published[published.PERIODO == 20195].groupby('ESTU_COD_RESIDE_DEPTO')['PUNT_GLOBAL'].agg(['count', 'mean', 'max', 'min'])
    rows = {r['department_code']: r for r in queries.departments(shared, period=20195)}
    assert set(rows) == set(expected.index)
    for code, e in expected.iterrows():
        assert (rows[code]['students'], rows[code]['max_score'], rows[code]['min_score']) == (e['count'], e['max'], e['min'])
        assert rows[code]['mean_score'] == pytest.approx(e['mean'], abs=0.051)
    trend = queries.score_trend(shared)
    assert [r['period'] for r in trend] == [20183, 20195]
    assert trend[1]['mean_score'] == pytest.approx(published[published.PERIODO == 20195]['PUNT_GLOBAL'].mean(), abs=0.051)
    strata = queries.social_factors(shared, period=20183, factor='stratum')
    counts = published[published.PERIODO == 20183]['FAMI_ESTRATOVIVIENDA'].value_counts(dropna=False)
    assert {r['label']: r['students'] for r in strata} == {('(missing)' if pd.isna(k) else k): v for k, v in counts.items()}
    assert [r['position'] for r in strata] == sorted(r['position'] for r in strata)


def test_top_institutions_respect_the_minimum_count(shared, clean):
    sizes = clean[clean.PERIODO == 20195].groupby('INST_COD_INSTITUCION').size()
    for minimum in (10, 30, 60):
        top = queries.top_institutions(shared, period=20195, min_students=minimum, limit=100)
        assert {r['institution_code'] for r in top} == set(sizes[sizes >= minimum].index)
        assert [r['mean_score'] for r in top] == sorted((r['mean_score'] for r in top), reverse=True)
    assert len(queries.top_institutions(shared, period=20195, min_students=10, limit=3)) == 3
    with pytest.raises(BadInput, match='min_students: 1 is outside'): queries.top_institutions(shared, min_students=1)


def test_risk_distribution_by_department_and_institution(shared):
    by_department = queries.risk_distribution(shared, period=20195)
    assert sum(r['students'] for r in by_department) == sum(r['students'] for r in queries.departments(shared, period=20195))
    shares = pd.DataFrame(by_department).groupby('area_code')['percent'].sum()
    assert shares.between(99.5, 100.5).all()
    by_institution = queries.risk_distribution(shared, by='institution', limit=3)
    assert len({r['area_code'] for r in by_institution}) == 3
    one = queries.risk_distribution(shared, department='bogotá')
    assert {r['area'] for r in one} == {'BOGOTÁ'}


@pytest.mark.parametrize('query', [
    lambda url, d: queries.departments(url, department=d), lambda url, d: queries.score_trend(url, d),
    lambda url, d: queries.risk_distribution(url, department=d)])
def test_an_injected_department_is_refused_and_a_real_one_goes_as_a_parameter(shared, query, monkeypatch):
    before, sent, rows = snapshot(shared), [], queries._rows
    monkeypatch.setattr(queries, '_rows', lambda db, text, params: sent.append((text, params)) or rows(db, text, params))
    for injected in (INJECTION, "' OR '1'='1", 'Atlantis'):
        with pytest.raises(BadInput, match=r'department: .* is not a Colombian department name or DANE code'): query(shared, injected)
    assert sent == [] and snapshot(shared) == before  # refused before any SQL ran
    assert query(shared, 'bogotá')
    (text, params), = sent
    assert params['department'] == '11' and 'bogot' not in text.lower() and "'11'" not in text  # a parameter, never SQL text


@pytest.mark.parametrize('call, message', [
    (lambda url: queries.departments(url, period="20195 OR 1=1"), 'is not an exam period'),
    (lambda url: queries.departments(url, period=20197), 'period digit 1-5'),
    (lambda url: queries.top_institutions(url, limit=10**6), 'limit: 1000000 is outside 1-100'),
    (lambda url: queries.top_institutions(url, limit='5; DROP TABLE x'), 'is not a whole number'),
    (lambda url: queries.social_factors(url, factor='stratum; --'), 'is not one of stratum'),
    (lambda url: queries.risk_distribution(url, by='municipality'), "is not 'department' or 'institution'"),
    (lambda url: queries.departments(url, department='x' * 500), 'at most 100 characters')])
def test_bad_query_parameters_are_refused(shared, call, message):
    with pytest.raises(BadInput, match=message): call(shared)


def test_answers_are_plain_json_and_every_query_answers(shared):
    for name in queries.QUERIES:
        rows = queries.run_query(name, shared)
        assert rows and json.loads(json.dumps(rows)) == rows, name


def test_queries_accept_an_engine_or_an_open_connection(shared):
    engine = pg.engine(shared)
    assert queries.departments(engine, period=20195) == queries.departments(shared, period=20195)
    conn = psycopg2.connect(shared)
    try:
        assert queries.score_trend(conn) == queries.score_trend(shared)
        assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE  # left as it was found
    finally: conn.close()


def test_pandas_reads_every_view_through_the_engine(shared, monkeypatch):
    monkeypatch.setenv('DATABASE_URL', shared)  # the configured database: no URL given
    for view in ('department_scores', 'institution_scores', 'risk_by_area', 'score_trend', 'social_factors'):
        frame = pd.read_sql(f'SELECT * FROM estudiapp.{view}', pg.engine())
        assert len(frame) > 0, view
    trend = pd.read_sql("SELECT period, mean_score FROM estudiapp.score_trend WHERE area_code = 'CO' ORDER BY period", pg.engine())
    assert trend.to_dict('records') == [{k: r[k] for k in ('period', 'mean_score')} for r in queries.score_trend(shared)]


def test_the_connection_module_imports_sqlalchemy_only_for_an_engine():
    # the Lambda bundle ships pg (for the statistics routes) without SQLAlchemy
    code = ("import sys, estudiapp_core.pg as pg, estudiapp_core.queries; assert 'sqlalchemy' not in sys.modules; "
            "pg.engine('postgresql://dash@db.example.org/estudiapp'); assert 'sqlalchemy' in sys.modules")
    subprocess.run([sys.executable, '-c', code], check=True)


def test_a_database_without_the_schema_says_what_to_run(pg_database):
    with pytest.raises(BadInput, match='run `estudiapp db init` and `estudiapp db load`'): queries.departments(pg_database)


# --- command line --------------------------------------------------------------------------------------------------

def test_cli_init_load_refresh_query(pg_database, clean, tmp_path, capsys):
    clean.to_parquet(tmp_path/'clean.parquet')
    make_predictions(clean).to_parquet(tmp_path/'predictions.parquet')
    (tmp_path/'model_card.json').write_text(json.dumps(CARD))
    url = ['--database-url', pg_database]
    assert main(['db', *url, 'init']) == 0
    assert main(['db', *url, 'load', str(tmp_path/'clean.parquet'), '--predictions', str(tmp_path/'predictions.parquet'),
                 '--run-card', str(tmp_path/'model_card.json')]) == 0
    assert main(['db', *url, 'load', str(tmp_path/'clean.parquet')]) == 0
    assert main(['db', *url, 'refresh']) == 0
    out = capsys.readouterr().out
    assert f'{len(clean):,} rows, {len(clean):,} written' in out and f'{len(clean):,} rows, 0 written' in out
    assert 'social_factors' in out
    assert main(['db', *url, 'query', 'departments', '--period', '20195']) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ['period', 'department_code', 'department'] and len(table) > 20
    assert main(['db', *url, 'query', 'institutions', '--limit', '3', '--json']) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_cli_bad_input_exits_2(pg_database, tmp_path, capsys):
    url = ['--database-url', pg_database]
    assert main(['db', *url, 'load', str(tmp_path/'missing.parquet')]) == 2
    assert main(['db', *url, 'query', 'trend', '--period', '20195']) == 2
    assert main(['db', '--database-url', 'postgresql://nobody:secret@/nowhere?host=/nonexistent', 'init']) == 2
    err = capsys.readouterr().err
    assert 'missing.parquet: no such file' in err and 'takes no --period' in err
    assert 'cannot connect' in err and 'secret' not in err
