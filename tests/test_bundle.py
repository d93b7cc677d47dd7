"""Serving bundle: same features, scores, probabilities and SHAP values as the scikit-learn pipeline on the whole test
set (synthetic and real), validation messages, tamper refusal, and a serving path free of pandas, scikit-learn, shap."""
import csv, io, json, pickle, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from estudiapp_core.bundle import BUNDLE_MODEL, MODEL_CARD, load_bundle, risk_band
from estudiapp_core.config import get_settings
from estudiapp_core.core import BadInput
from estudiapp_core.ingest import ingest_frame
from estudiapp_core.pipeline import run_pipeline
from estudiapp_core.schema import COLUMNS
from estudiapp_core.store import TamperedArtifact, open_store
from estudiapp_core.scoring import check_students, features_of, score_frame
from estudiapp_core.synth import synthesize
from conftest import raw_students

REAL = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'saberpro_2018_2021_polijic_raw.csv'
KEYS = get_settings()


@pytest.fixture(scope='module')
def synthetic_store(tmp_path_factory):
    "Artifacts of the main job on 20,000 synthetic students"
    folder = tmp_path_factory.mktemp('bundle')/'artifacts'
    run_pipeline(rows=20_000, seed=5, store=folder, show_progress=False)
    return folder


def stored_test_set(store):
    "The stored test students: raw rows (dicts of strings) and the same rows cleaned by the ingest"
    data = store.load_verified(KEYS.TEST_DATASET_V4)
    students = list(csv.DictReader(io.StringIO(data.decode('utf-8'))))
    raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    clean = ingest_frame(raw).table
    assert len(clean) == len(students)
    if 'CONTEXT_RATE' in raw:  # stored as the run joined it (pipeline.STORED_DERIVED), not a raw field
        clean['CONTEXT_RATE'] = pd.to_numeric(raw['CONTEXT_RATE']).to_numpy()
    return students, clean


def sklearn_path(store, clean):
    "Features, scores and P(low score) of the pickled scikit-learn pipeline"
    pre, linear, classifier = (pickle.loads(store.load_verified(k)) for k in (KEYS.PKL_PRE, KEYS.PKL_LINEAR, KEYS.PKL_XGBOOST))
    X = pre.transform(clean)
    return X, linear.predict(X), classifier.low_score_probability(X)


def assert_same_as_sklearn(folder):
    store = open_store(folder)
    bundle = load_bundle(store)
    students, clean = stored_test_set(store)
    X, score, probability = sklearn_path(store, clean)
    # the rate as the run stored it, and as the bundle looks it up from the municipality and period
    X_bundle = bundle.featurize_batch(students)
    assert np.abs(X_bundle - X).max() <= 1e-6
    assert np.abs(bundle.featurize_batch([{k: v for k, v in s.items() if k != 'CONTEXT_RATE'} for s in students]) - X).max() <= 1e-6
    answers = bundle.predict(students)
    assert np.abs(np.array([a['predicted_score'] for a in answers]) - score).max() <= 1e-6
    assert np.abs(np.array([a['low_score_probability'] for a in answers]) - probability).max() <= 1e-6
    stored_shap = np.load(io.BytesIO(store.load_verified(KEYS.SHAPLEY_VALUES)))
    assert np.abs(bundle.contributions(X_bundle)[:, :-1] - stored_shap).max() <= 1e-5
    names = json.loads(store.load_verified(KEYS.SHAPLEY_VALUES.replace('shap_values.npy', 'shap_feature_names.json')))
    assert names == bundle.feature_names and len(bundle.feature_groups) == len(names)
    return bundle, students


def test_bundle_matches_sklearn_on_the_whole_synthetic_test_set(synthetic_store):
    bundle, students = assert_same_as_sklearn(synthetic_store)
    assert len(students) > 4_500  # 2019's two periods of 2016-2019's eight


@pytest.mark.skipif(not REAL.exists(), reason='real sample not available')
def test_bundle_matches_sklearn_on_the_real_sample(tmp_path):
    run_pipeline(data=[REAL], store=tmp_path/'artifacts', show_progress=False)
    bundle, students = assert_same_as_sklearn(tmp_path/'artifacts')
    assert bundle.model_card['oracle'] is None and bundle.model_card['data']['periods']['test'] == [20212, 20213]
    # the real file's own rows (BOM, blanks, '0' hours, stray categories) featurize like their cleaned selves
    real = pd.read_csv(REAL, dtype=str, keep_default_na=False, encoding='utf-8-sig')
    rows = real[real.PERIODO.isin(['20212', '20213']) & (real.ESTU_ESTADOINVESTIGACION == 'PUBLICAR')]
    by_id = {s['ESTU_CONSECUTIVO']: s for s in students}
    raw = rows[rows.ESTU_CONSECUTIVO.isin(list(by_id))].drop_duplicates('ESTU_CONSECUTIVO').to_dict('records')
    for r in raw: r['CONTEXT_RATE'] = by_id[r['ESTU_CONSECUTIVO']].get('CONTEXT_RATE')  # joined by the run, not a raw field
    assert len(raw) > 1000
    np.testing.assert_array_equal(bundle.featurize_batch(raw), bundle.featurize_batch([by_id[r['ESTU_CONSECUTIVO']] for r in raw]))


def test_predict_answers_the_contract(synthetic_store):
    bundle = load_bundle(synthetic_store)
    answer = bundle.predict([{'ESTU_GENERO': 'M', 'FAMI_ESTRATOVIVIENDA': 'Estrato 1', 'PERIODO': '20195',
                              'ESTU_FECHANACIMIENTO': '01/01/1990'}], top_k=5)[0]
    assert set(answer) == {'predicted_score', 'score_interval', 'low_score_probability', 'risk_band', 'reasons',
                           'filled_in', 'known_weight', 'model_version'}
    assert answer['filled_in'] == [] and answer['known_weight'] == 1.0  # a file's semantics: nothing is unknown
    assert answer['score_interval'][0] <= answer['predicted_score'] <= answer['score_interval'][1]
    assert answer['risk_band'] == risk_band(answer['low_score_probability'])
    assert answer['model_version'] == bundle.model_card['model_version']
    assert len(answer['reasons']) == 5
    sizes = [abs(r['contribution']) for r in answer['reasons']]
    assert sizes == sorted(sizes, reverse=True)
    for r in answer['reasons']:
        assert set(r) == {'feature', 'value', 'direction', 'contribution', 'text'}
        assert r['direction'] == ('raises' if r['contribution'] > 0 else 'lowers') and r['direction'] in r['text']
    age = next((r for r in bundle.predict([{'PERIODO': '20195', 'ESTU_FECHANACIMIENTO': '01/01/1990'}], top_k=50)[0]['reasons']
                if r['feature'] == 'AGE'), None)
    assert age is None or age['value'] == 29.0  # whole years on 1 January 2019
    json.dumps(answer)  # plain JSON types only
    assert bundle.predict([{}])[0]['risk_band'] in {'high', 'medium', 'low', 'very low'}


students = st.fixed_dictionaries({}, optional={
    name: st.one_of(st.sampled_from(col.categories), st.just(''), st.just('  '), st.none())
    for name, col in COLUMNS.items() if col.kind in ('category', 'ordinal') and name != 'ESTU_COD_RESIDE_DEPTO'})


@given(student=students)
@settings(max_examples=60, deadline=None)
def test_any_valid_student_gets_a_sane_answer(synthetic_store, student):
    bundle = load_bundle(synthetic_store)
    bundle.validate(student)
    answer = bundle.predict([student])[0]
    assert 0 <= answer['low_score_probability'] <= 1 and 0 <= answer['predicted_score'] <= 300
    assert answer['score_interval'][0] <= answer['predicted_score'] <= answer['score_interval'][1]


@pytest.mark.parametrize('student, message', [
    ({'ESTU_COLOR': 'azul'}, "unknown field 'ESTU_COLOR'"),
    ({'FAMI_ESTRATOVIVIENDA': 'Estrato 9'}, 'FAMI_ESTRATOVIVIENDA'),
    ({'ESTU_GENERO': 'X'}, 'ESTU_GENERO'),
    ({'MOD_INGLES_PUNT': '301'}, 'MOD_INGLES_PUNT'),
    ({'PERIODO': '2019'}, 'PERIODO'),
    ({'ESTU_FECHANACIMIENTO': '1999-02-31'}, 'ESTU_FECHANACIMIENTO'),
])
def test_validate_names_the_field(synthetic_store, student, message):
    with pytest.raises(BadInput, match=message): load_bundle(synthetic_store).validate(student)


def test_validate_accepts_what_the_ingest_repairs(synthetic_store):
    bundle = load_bundle(synthetic_store)
    student = {'ESTU_DEPTO_RESIDE': ' bogota ', 'ESTU_METODO_PRGM': 'DISTANCIA VITUAL', 'PERIODO': 20195, 'FAMI_TIENEINTERNET': ''}
    bundle.validate(student)
    same = {'ESTU_DEPTO_RESIDE': 'BOGOTÁ', 'ESTU_METODO_PRGM': 'DISTANCIA VIRTUAL', 'PERIODO': '20195'}
    np.testing.assert_array_equal(bundle.featurize(student), bundle.featurize(same))


def test_a_tampered_bundle_is_refused(synthetic_store, tmp_path):
    store = open_store(tmp_path/'copy')
    source = open_store(synthetic_store)
    store.publish({k: source.get_bytes(k) for k in source.keys()})
    store.put_bytes(BUNDLE_MODEL, source.get_bytes(BUNDLE_MODEL) + b' ')
    with pytest.raises(TamperedArtifact, match=BUNDLE_MODEL): load_bundle(store)


def test_serving_path_imports_neither_pandas_sklearn_nor_shap(synthetic_store):
    code = f'''
import sys, json
from estudiapp_core.bundle import load_bundle
bundle = load_bundle({str(synthetic_store)!r})
answer = bundle.predict([{{"FAMI_ESTRATOVIVIENDA": "Estrato 2", "PERIODO": "20195"}}])
bundle.validate({{"ESTU_GENERO": "F"}})
print(json.dumps(sorted(m for m in ("pandas", "sklearn", "shap") if m in sys.modules)))
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_one_student_at_a_time_equals_the_batch(synthetic_store):
    bundle = load_bundle(synthetic_store)
    students, _ = stored_test_set(open_store(synthetic_store))
    some = students[:300]
    for one, batch in zip([bundle.predict([s])[0] for s in some], bundle.predict(some)):
        for key in ('predicted_score', 'low_score_probability'): assert abs(one[key] - batch[key]) < 1e-9
        assert one['risk_band'] == batch['risk_band'] and one['model_version'] == batch['model_version']
        assert [(r['feature'], r['value'], r['direction']) for r in one['reasons']] == \
               [(r['feature'], r['value'], r['direction']) for r in batch['reasons']]


FULL_ONLY = ('ESTU_INSE_INDIVIDUAL', 'ESTU_NSE_INDIVIDUAL', 'ESTU_AREARESIDE', 'ESTU_SEMESTRECURSA', 'ESTU_DEDICACIONLECTURADIARIA',
             'ESTU_DEDICACIONINTERNET', 'FAMI_NUMLIBROS', 'GRUPOREFERENCIA', 'ESTU_EXTERIOR', 'FOREIGN_NATIONAL', 'CONTEXT_RATE')


def test_bundle_matches_sklearn_with_the_full_layouts_predictors(full_layout_model):
    m = full_layout_model
    bundle, students = m.bundle, raw_students(m.split.test)
    assert set(FULL_ONLY) | {'INST_COD_INSTITUCION'} <= set(bundle.group_names)
    X_bundle = bundle.featurize_batch(students)
    assert np.abs(X_bundle - m.X['test']).max() <= 1e-6
    np.testing.assert_array_equal(np.stack([bundle.featurize(s) for s in students[:300]]), X_bundle[:300])
    answers = bundle.predict(students)
    assert np.abs(np.array([a['predicted_score'] for a in answers]) - m.linear.predict(m.X['test'])).max() <= 1e-6
    assert np.abs(np.array([a['low_score_probability'] for a in answers]) - m.classifier.low_score_probability(m.X['test'])).max() <= 1e-6
    institution = next(c for c in bundle.spec['columns'] if c['name'] == 'INST_COD_INSTITUCION')
    assert institution['infrequent'] and institution['unknown'] == institution['start'] + institution['width'] - 1
    assert len({p for p in institution['positions'].values()}) == institution['width']


def test_bundle_derives_like_the_cleaning_from_the_raw_full_layout(full_layout_model, full_layout_raw):
    "The test students as the file writes them: serving derives AGE, FOREIGN_NATIONAL, GRUPOREFERENCIA, CONTEXT_RATE itself"
    m = full_layout_model
    def key(t): return t.ESTU_CONSECUTIVO.astype(str) + '/' + t.PERIODO.astype(str)
    raw = full_layout_raw.set_index(key(full_layout_raw)).loc[key(m.split.test)]
    assert 'CONTEXT_RATE' not in raw and (raw.GRUPOREFERENCIA.fillna('') == '').all()  # 2019's file has no group
    students = raw.astype(object).where(raw.notna(), None).to_dict('records')
    X = m.bundle.featurize_batch(students)
    assert np.abs(X - m.X['test']).max() <= 1e-6
    np.testing.assert_array_equal(np.stack([m.bundle.featurize(s) for s in students[:200]]), X[:200])
    names = m.bundle.feature_names
    rate = names.index('numeric__CONTEXT_RATE')
    assert len(np.unique(X[:, rate])) > 100  # looked up per municipality, not the imputed blank
    groups = [i for i, n in enumerate(names) if n.startswith('categorical__GRUPOREFERENCIA_') and not n.endswith('_missing')]
    assert (X[:, groups].sum(axis=1) == 1).mean() > 0.99  # derived from the núcleo


def test_serving_derives_foreign_nationality_and_sends_unseen_institutions_to_the_shared_column(full_layout_model):
    bundle, names = full_layout_model.bundle, full_layout_model.bundle.feature_names
    student = {'PERIODO': '20195', 'ESTU_NACIONALIDAD': 'venezuela ', 'INST_COD_INSTITUCION': 'NEVER SEEN'}
    np.testing.assert_array_equal(bundle.featurize(student), bundle.featurize({**student, 'FOREIGN_NATIONAL': 'Si'}))
    assert bundle.featurize({'ESTU_NACIONALIDAD': 'COLOMBIA'})[names.index('categorical__FOREIGN_NATIONAL_No')] == 1
    shared = names.index('institution__INST_COD_INSTITUCION_infrequent_sklearn')
    assert bundle.featurize(student)[shared] == 1 and bundle.featurize_batch([student])[0, shared] == 1
    reasons = bundle.predict([{'ESTU_INSE_INDIVIDUAL': 12.0, 'CONTEXT_RATE': 4.0}], top_k=50)[0]['reasons']
    inse = next(r for r in reasons if r['feature'] == 'ESTU_INSE_INDIVIDUAL')
    assert inse['value'] == 12.0 and inse['text'].startswith('Socio-economic index (INSE): 12.')


def test_a_57_column_file_is_scored_by_a_full_layout_model(full_layout_model):
    bundle = full_layout_model.bundle
    raw = synthesize(400, seed=2, layout='datos')  # the datos.gov.co export's layout: none of the full layout's own columns
    assert not set(FULL_ONLY) & set(raw.columns)
    check_students(raw)
    scores = score_frame(raw, bundle, show_progress=False)
    assert len(scores) == len(raw) and scores.low_score_probability.between(0, 1).all()
    student = raw.iloc[0].to_dict()
    blank = {name: None for name in FULL_ONLY if name != 'FOREIGN_NATIONAL'}  # absent = missing, not an error
    np.testing.assert_array_equal(bundle.featurize(student), bundle.featurize({**student, **blank}))


# --- omitted is not blank (issue 11, section 2) ---------------------------------------------------------------------

def test_the_main_job_stores_neutral_values_and_weights(synthetic_store):
    "Every input has a neutral value (a number's is the training median, as the imputer's) and its mean |SHAP|"
    bundle = load_bundle(synthetic_store)
    assert set(bundle.neutral) == set(bundle.group_names)
    for c in bundle.spec['columns']:
        value = bundle.neutral[c['name']]
        if c['kind'] == 'numeric': assert value == pytest.approx(c['impute'])  # SimpleImputer's median of the same rows
        elif c['kind'] == 'ordinal': assert value in c['ranks']
        else: assert value in c['positions']
    card = {row['feature']: row['mean_abs_shap'] for row in bundle.model_card['explanations']['importance']}
    assert bundle.spec['mean_abs_shap'] == pytest.approx(card)
    assert bundle.predict([{}])[0]['known_weight'] == 1.0 and bundle.known_weight(bundle.group_names) == 0.0


@pytest.fixture(scope='module')
def test_students(synthetic_store):
    return [{k: v for k, v in s.items() if v} for s in stored_test_set(open_store(synthetic_store))[0][:300]]


@given(i=st.integers(0, 299), keep=st.lists(st.booleans(), min_size=80, max_size=80), blank=st.integers(0, 79))
@settings(max_examples=60, deadline=None)
def test_an_omission_moves_nothing(synthetic_store, test_students, i, keep, blank):
    "Left out = the neutral value sent; sent null = a file's blank; reasons never name what was filled in"
    bundle = load_bundle(synthetic_store)
    names = sorted(test_students[i])
    student = {k: v for k, v in zip(names, keep) if v}
    if names: student[names[blank % len(names)]] = None  # one answer left blank on purpose
    try: asked = bundle.predict([student], top_k=40, omitted='unknown')[0]
    except BadInput as e:
        assert 'too little is known' in str(e)
        assert bundle.known_weight(bundle.featurizer.omitted(student, bundle.featurizer.values(student))) < 0.5
        return
    sent = {**student, **{name: bundle.neutral[name] for name in asked['filled_in']}}
    [as_file] = bundle.predict([sent], top_k=40)
    for key in ('predicted_score', 'low_score_probability'): assert asked[key] == pytest.approx(as_file[key], abs=1e-9)
    assert not {r['feature'] for r in asked['reasons']} & set(asked['filled_in'])
    assert len(asked['reasons']) == min(40, len(bundle.group_names) - len(asked['filled_in']))
    assert asked['known_weight'] >= 0.5


def test_batch_scoring_of_files_keeps_blank_answers(synthetic_store, test_students):
    "`estudiapp score` reads a blank cell as a blank answer, as `predict` does by default, not as unknown"
    bundle = load_bundle(synthetic_store)
    frame = pd.DataFrame(test_students[:50]).astype(object)
    # an input whose blanks training saw (it has a missing indicator), so that a blank answer says something
    informative = next(p.name for p in bundle.featurizer.scaled
                       if p.flag is not None and p.name in frame and p.name not in bundle.featurizer.derived)
    frame.loc[:, informative] = None  # a blank column: the file says the students did not answer
    scored = score_frame(frame, bundle, top_k=0)
    rows = [{k: v for k, v in r.items() if v is not None} for r in frame.to_dict('records')]
    blank = np.array([a['low_score_probability'] for a in bundle.predict(rows, top_k=0)])
    unknown = bundle.predict(rows, top_k=0, omitted='unknown')
    assert np.abs(scored['low_score_probability'].to_numpy() - blank).max() <= 1e-6
    # the two readings differ, and files keep theirs (the linear score: its missing indicator always has a weight,
    # while the trees may never split on it)
    blank_score = np.array([a['predicted_score'] for a in bundle.predict(rows, top_k=0)])
    assert np.abs(blank_score - np.array([a['predicted_score'] for a in unknown])).max() > 1e-3
    assert np.abs(scored['predicted_score'].to_numpy() - blank_score).max() <= 1e-6


SUCRE = REAL.with_name('saberpro_2019_sucre_full_layout.csv')


@pytest.mark.skipif(not SUCRE.exists(), reason='real full-layout sample not available')
def test_decision_patterns_equal_xgboost_on_real_students(tmp_path):
    "On a real file's students (blanks, repaired values, the model the search picked), TreeSHAP by decision patterns is XGBoost's"
    import xgboost
    from estudiapp_core.bundle import PATTERN_MIN_ROWS
    run = run_pipeline(data=[SUCRE], store=tmp_path/'artifacts', split='random', show_progress=False)
    bundle = load_bundle(tmp_path/'artifacts')
    X, _ = features_of(run.clean, bundle)
    assert len(X) >= PATTERN_MIN_ROWS  # enough students for the patterns (the featurizer imputes: no value is missing here)
    by_patterns = bundle.contributions(X)
    assert bundle._patterns is not None and sum(len(t.values) for t in bundle._patterns.trees) < len(X) * len(bundle._patterns.trees) / 10
    np.testing.assert_array_equal(by_patterns, bundle.booster.predict(xgboost.DMatrix(X), pred_contribs=True))
