"""`estudiapp run` and `estudiapp score` end to end, as a user runs them: artifacts and model card in a folder and in S3
(a local S3 server), bad inputs with exit code 2 and nothing half-written, batch scoring of raw and clean files."""
import json, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from estudiapp_core.bundle import BUNDLE_MODEL, BUNDLE_SPEC, MODEL_CARD, load_bundle
from estudiapp_core.cli import main
from estudiapp_core.config import get_settings
from estudiapp_core.ingest import ingest_frame
from estudiapp_core.store import MANIFEST, open_store
from estudiapp_core.synth import synthesize

REAL = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'saberpro_2018_2021_polijic_raw.csv'
KEYS = get_settings()
ESTUDIAPP = str(Path(sys.executable).parent/'estudiapp')  # the console script, as a user runs it
EXPECTED = {KEYS.PKL_PRE, KEYS.PKL_LINEAR, KEYS.PKL_XGBOOST, KEYS.SHAPLEY_VALUES, 'shap_feature_names.json',
            KEYS.TEST_DATASET_V3, KEYS.TEST_DATASET_V4, BUNDLE_SPEC, BUNDLE_MODEL, MODEL_CARD}


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    "A folder of artifacts published by `estudiapp run` on 8,000 synthetic students, and what it printed"
    folder = tmp_path_factory.mktemp('run')/'artifacts'
    out = subprocess.run([ESTUDIAPP, 'run', '--rows', '8000', '--seed', '3',
                          '--store', str(folder)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return folder, out.stdout


def test_run_publishes_every_artifact_with_its_manifest(published):
    folder, printed = published
    store = open_store(folder)
    assert set(store.keys()) == EXPECTED and set(store.verify()) == EXPECTED
    card = json.loads(store.load_verified(MODEL_CARD))
    periods = card['data']['periods']  # test = the latest exam year, whatever periods synth draws
    latest_year = max(periods['test']) // 10
    assert {p // 10 for p in periods['test']} == {latest_year} and max(periods['train']) // 10 < latest_year
    assert sum(card['data']['rows'][k] for k in ('train', 'valid', 'test')) == card['data']['rows_clean']
    assert set(card['versions']) >= {'python', 'scikit_learn', 'xgboost'} and card['created']
    assert card['oracle']['r2'] > card['linear']['test']['r2'] - 0.02 and 0 < card['classifier']['test']['brier'] < 0.25
    assert set(card['seconds']) >= {'data', 'split', 'preprocess', 'linear', 'classifier', 'evaluation', 'shap', 'artifacts'}
    assert card['split']['kind'] == 'temporal' and 'latest exam year' in card['split']['meaning']
    assert card['context']['kind'] == 'shipped' and card['context']['window'] == 5 and 'DIJIN' in card['context']['source']
    assert card['context']['students_with_rate'] > 0.95 and 'CONTEXT_RATE' in card['predictors']['used']
    for word in ('R² (linear)', 'ROC-AUC (classifier)', 'oracle', 'naive', 'top reasons', str(folder), 'seconds',
                 'split: temporal', 'context: homicide rate', 'predictors: '):
        assert word in printed, word
    stored = pd.read_csv(folder/KEYS.TEST_DATASET_V4, dtype=str)
    assert stored.CONTEXT_RATE.notna().mean() > 0.95  # the stored students score with their context


def test_a_failed_run_leaves_the_published_set_alone(published, tmp_path):
    folder, _ = published
    before = open_store(folder).get_bytes(MANIFEST)
    one_period = synthesize(2000, seed=1, periods=(20195,))
    one_period.to_csv(tmp_path/'one_period.csv', index=False)
    assert main(['run', '--data', str(tmp_path/'one_period.csv'), '--store', str(folder)]) == 2
    assert open_store(folder).get_bytes(MANIFEST) == before


def test_random_split_of_a_single_period_without_context(tmp_path):
    one_period = synthesize(3000, seed=6, periods=(20195,))
    one_period.to_csv(tmp_path/'one_period.csv', index=False)
    out = subprocess.run([ESTUDIAPP, 'run', '--data', str(tmp_path/'one_period.csv'), '--split', 'random', '--test-share',
                          '0.25', '--no-context', '--seed', '2', '--store', str(tmp_path/'artifacts')],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    card = json.loads(open_store(tmp_path/'artifacts').load_verified(MODEL_CARD))
    assert card['split'] == {'kind': 'random', 'test_share': 0.25, 'meaning': card['split']['meaning']}
    assert "random 25% of the latest exam year" in card['split']['meaning'] and 'split: random' in out.stdout
    assert card['data']['rows']['test'] == round(0.25 * card['data']['rows_clean'])
    assert card['data']['periods'] == {'train': [20195], 'test': [20195]}
    assert card['context'] == {'kind': 'none', 'reason': 'turned off (--no-context)'}
    assert 'CONTEXT_RATE' in card['predictors']['absent'] and 'CONTEXT_RATE' not in card['predictors']['used']


def test_context_file_replaces_the_shipped_context(tmp_path):
    from estudiapp_core.ingest import example_context
    raw = synthesize(3000, seed=7)
    raw.to_csv(tmp_path/'students.csv', index=False)
    example_context().to_csv(tmp_path/'context.csv', index=False)
    assert main(['run', '--data', str(tmp_path/'students.csv'), '--context', str(tmp_path/'context.csv'),
                 '--store', str(tmp_path/'artifacts')]) == 0
    card = json.loads(open_store(tmp_path/'artifacts').load_verified(MODEL_CARD))
    assert card['context']['kind'] == 'file' and card['context']['source'] == 'context.csv'
    out = subprocess.run([ESTUDIAPP, 'run', '--data', str(tmp_path/'students.csv'), '--context', str(tmp_path/'context.csv'),
                          '--no-context', '--store', str(tmp_path/'other')], capture_output=True, text=True)
    assert out.returncode == 2 and 'not allowed with argument' in out.stderr and not (tmp_path/'other').exists()


@pytest.mark.parametrize('name, change, message', [
    ('no_target', lambda r: r.drop(columns=['PUNT_GLOBAL', 'MOD_INGLES_PUNT']), 'missing required column PUNT_GLOBAL'),
    ('one_period', lambda r: r[r.PERIODO == '20183'], 'at least two exam periods'),
    ('too_few_rows', lambda r: r.groupby('PERIODO').head(40), 'too few rows'),
    ('constant_target', lambda r: r.assign(PUNT_GLOBAL='150', PERCENTIL_GLOBAL='50'), 'target is constant'),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, name, change, message):
    path = tmp_path/f'{name}.csv'
    change(synthesize(3000, seed=2)).to_csv(path, index=False)
    out = subprocess.run([ESTUDIAPP, 'run', '--data', str(path), '--store',
                          str(tmp_path/'artifacts')], capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and 'Traceback' not in out.stderr, out.stderr
    assert not (tmp_path/'artifacts').exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary leftovers either


def test_run_into_s3(s3_bucket, tmp_path):
    assert main(['run', '--rows', '6000', '--seed', '4', '--store', f's3://{s3_bucket}/runs/one']) == 0
    store = open_store(f's3://{s3_bucket}/runs/one')
    assert set(store.verify()) == EXPECTED
    bundle = load_bundle(store)
    assert bundle.predict([{'FAMI_ESTRATOVIVIENDA': 'Estrato 3'}])[0]['model_version'] == bundle.model_card['model_version']


@pytest.mark.skipif(not REAL.exists(), reason='real sample not available')
def test_run_on_the_real_sample(tmp_path, capsys):
    assert main(['run', '--data', str(REAL), '--store', str(tmp_path/'artifacts')]) == 0
    card = json.loads(open_store(tmp_path/'artifacts').load_verified(MODEL_CARD))
    assert card['oracle'] is None and card['data']['source']['files'] == [REAL.name]
    assert 'INST_ORIGEN' not in card['features']['categorical']  # constant in one institution: left out
    assert 'INST_ORIGEN' in card['predictors']['constant'] and 'ESTU_INSE_INDIVIDUAL' in card['predictors']['absent']
    assert card['context']['kind'] == 'shipped' and card['context']['students_with_rate'] > 0.99
    assert card['data']['periods']['test'] == [20212, 20213]  # the latest exam year
    assert card['classifier']['test']['roc_auc'] > card['classifier']['naive_test']['roc_auc']
    assert 'oracle' not in capsys.readouterr().out.split('top reasons')[0]


def test_score_raw_and_clean_files(published, tmp_path, capsys):
    folder, _ = published
    raw = synthesize(1500, seed=8, periods=(20203,))
    new_students = raw.drop(columns=['PUNT_GLOBAL', 'PERCENTIL_GLOBAL', 'MOD_INGLES_PUNT'])  # not examined yet
    new_students.to_csv(tmp_path/'students.csv', sep='|', index=False, encoding='latin-1')
    assert main(['score', str(tmp_path/'students.csv'), '--out', str(tmp_path/'scores.csv'), '--store', str(folder)]) == 0
    assert '1,500 students scored' in capsys.readouterr().out
    scores = pd.read_csv(tmp_path/'scores.csv', dtype={'ESTU_CONSECUTIVO': str})
    assert len(scores) == 1500 and scores.low_score_probability.between(0, 1).all()
    assert (scores.score_low <= scores.predicted_score).all() and (scores.predicted_score <= scores.score_high).all()
    assert set(scores.risk_band) <= {'high', 'medium', 'low', 'very low'} and scores.reason_3.notna().all()
    bundle = load_bundle(folder)
    first = bundle.predict([new_students.iloc[0].to_dict()])[0]
    assert abs(scores.low_score_probability[0] - first['low_score_probability']) < 1e-9
    assert scores.reason_1_text[0] == first['reasons'][0]['text']
    # the same students as a clean table (parquet, from the ingest) score to the same numbers
    ingest_frame(raw).table.to_parquet(tmp_path/'clean.parquet')
    assert main(['score', str(tmp_path/'clean.parquet'), '--out', str(tmp_path/'clean_scores.parquet'), '--store', str(folder)]) == 0
    from_clean = pd.read_parquet(tmp_path/'clean_scores.parquet').set_index('ESTU_CONSECUTIVO')
    joined = scores.set_index('ESTU_CONSECUTIVO').join(from_clean.add_suffix('_clean'), how='inner')
    assert len(joined) > 1400
    np.testing.assert_allclose(joined.low_score_probability, joined.low_score_probability_clean, atol=1e-9)


def test_score_refuses_bad_values_and_missing_artifacts(published, tmp_path, capsys):
    folder, _ = published
    raw = synthesize(300, seed=8, periods=(20203,))
    raw.loc[5, 'FAMI_ESTRATOVIVIENDA'] = 'Estrato 9'
    raw.to_csv(tmp_path/'bad.csv', index=False)
    assert main(['score', str(tmp_path/'bad.csv'), '--out', str(tmp_path/'out.csv'), '--store', str(folder)]) == 2
    err = capsys.readouterr().err
    assert 'line 7, column FAMI_ESTRATOVIVIENDA' in err and 'nothing was written' in err
    assert main(['score', str(tmp_path/'bad.csv'), '--out', str(tmp_path/'out.csv'), '--store', str(tmp_path/'empty')]) == 2
    assert 'estudiapp run' in capsys.readouterr().err
    assert not (tmp_path/'out.csv').exists()
