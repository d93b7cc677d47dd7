"Synthetic cohorts: reproducible, in the real layout, inside the schema, calibrated, and written by the CLI as real files are."
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA
from estudiapp_core import synth
from estudiapp_core.cli import main
from estudiapp_core.core import BadInput
from estudiapp_core.schema import COLUMNS, DEPARTMENTS, MODULE_SCORES
from estudiapp_core.synth import (RAW_COLUMNS, expected_global_score, oracle_metrics, synthesize, write_synthetic)

REAL_FILE = SHARED_DATA/'saberpro_2018_2021_polijic_raw.csv'
CALIBRATION_ROWS = 100_000


@pytest.fixture(scope='module')
def small():
    "A small cohort over three periods"
    return synthesize(4000, seed=5, periods=(20183, 20195, 20203))


@pytest.fixture(scope='module')
def national():
    "A national-scale cohort for the calibration checks"
    return synthesize(CALIBRATION_ROWS, seed=2024)


def test_same_seed_same_cohort_other_seed_other_cohort(small):
    pd.testing.assert_frame_equal(synthesize(4000, seed=5, periods=(20183, 20195, 20203)), small)
    other = synthesize(4000, seed=6, periods=(20183, 20195, 20203))
    assert (other.PUNT_GLOBAL != small.PUNT_GLOBAL).mean() > 0.9
    assert (other.ESTU_CONSECUTIVO != small.ESTU_CONSECUTIVO).mean() > 0.99


@pytest.mark.skipif(not REAL_FILE.exists(), reason='real sample not available')
def test_layouts_are_the_real_files(small):
    header = pd.read_csv(REAL_FILE, nrows=0, encoding='utf-8-sig').columns.tolist()
    datos = synthesize(50, seed=5, layout='datos')
    assert list(datos.columns) == [*header, 'PUNT_GLOBAL', 'PERCENTIL_GLOBAL'] == list(RAW_COLUMNS)
    full = pd.read_csv(SHARED_DATA/'saberpro_2019_sucre_full_layout.csv', sep=';', nrows=0, encoding='utf-8-sig').columns
    assert len(full) == 105 and list(small.columns)[:105] == list(synth.FULL_LAYOUT)
    assert list(small.columns)[105:] == list(synth.ASKED_UNTIL_2018)


def test_every_value_is_a_string_and_blanks_are_empty(small):
    assert not small.isna().any().any()
    assert all(isinstance(v, str) for v in small.to_numpy().ravel()[:50_000])
    assert (small.FAMI_ESTRATOVIVIENDA == '').mean() > 0.01          # blanks exist, as in real files
    assert (small.MOD_COMUNI_ESCRITA_PUNT == '0').mean() > 0.005       # and zero essays


def test_categories_inside_the_schema(small):
    for name, column in COLUMNS.items():
        if column.categories and name in small: assert set(small[name]) - {''} <= set(column.categories), name
    assert set(small.ESTU_NIVEL_PRGM_ACADEMICO) <= set(COLUMNS['ESTU_NIVEL_PRGM_ACADEMICO'].categories)


def test_codes_ids_scores_are_consistent(small):
    home = small[small.ESTU_COD_RESIDE_MCPIO != '']
    assert home.ESTU_COD_RESIDE_MCPIO.str.fullmatch(r'\d{5}').all()
    assert (home.ESTU_COD_RESIDE_MCPIO.str[:2] == home.ESTU_COD_RESIDE_DEPTO.str[:2]).all()
    assert (home.ESTU_DEPTO_RESIDE == home.ESTU_COD_RESIDE_DEPTO.map(DEPARTMENTS)).all()
    assert small.ESTU_CONSECUTIVO.is_unique
    assert (small.ESTU_CONSECUTIVO.str[:7] == 'EK' + small.PERIODO).all()
    assert small.PERIODO.value_counts().to_dict() == {'20183': 1333, '20195': 1334, '20203': 1333}
    assert (synthesize(800, seed=1).PERIODO.value_counts() == 100).all()  # default: eight periods of 2016-2019
    modules = small[list(MODULE_SCORES)].astype(int)
    assert modules.to_numpy().min() >= 0 and modules.to_numpy().max() <= 300
    assert (np.floor(modules.mean(axis=1) + 0.5).astype(int) == small.PUNT_GLOBAL.astype(int)).all()
    for _, period in small.groupby('PERIODO'):
        score, percentile = period.PUNT_GLOBAL.astype(int), period.PERCENTIL_GLOBAL.astype(int)
        assert percentile.between(1, 100).all() and percentile.max() == 100
        assert (score.rank(method='max', pct=True).mul(100).apply(np.ceil).astype(int) == percentile).all()


def test_national_mix(national):
    share = national.ESTU_DEPTO_RESIDE.value_counts(normalize=True)
    assert 0.21 < share['BOGOTÁ'] < 0.30 and 0.12 < share['ANTIOQUIA'] < 0.18 and 0.06 < share['VALLE'] < 0.11
    assert national.ESTU_DEPTO_RESIDE.nunique() >= 34                      # every department and abroad
    institutions = national.INST_COD_INSTITUCION.value_counts(normalize=True)
    assert len(institutions) > 200 and institutions.iloc[:10].sum() > 0.2  # many institutions, skewed sizes
    fixed = national.groupby('INST_COD_INSTITUCION')[['INST_CARACTER_ACADEMICO', 'INST_ORIGEN', 'ESTU_INST_DEPARTAMENTO']].nunique()
    assert (fixed == 1).all().all()                                        # an institution's character never changes


def test_calibration(national):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score
    score = national.PUNT_GLOBAL.astype(float)
    train = np.arange(len(national)) % 4 != 0
    def linear_r2(X): return r2_score(score[~train], LinearRegression().fit(X[train], score[train]).predict(X[~train]))
    additive, exact = linear_r2(synth._linear_design(national)), linear_r2(synth._linear_design(national, interactions=True))
    oracle = oracle_metrics(national)
    assert 0.38 <= oracle['r2'] <= 0.42 and 0.765 <= oracle['auc'] <= 0.80, oracle
    assert 0.36 <= additive < exact, (additive, exact)                  # the interactions carry signal
    assert oracle_metrics(national[~train])['r2'] - exact < 0.01        # and the oracle knows every effect


def test_yearly_means_follow_the_original_trend(national):
    yearly = national.PUNT_GLOBAL.astype(float).groupby(national.PERIODO.str[:4].astype(int)).mean()
    assert set(yearly.index) == {2016, 2017, 2018, 2019}
    assert (yearly - pd.Series(synth.YEAR_MEAN)).abs().max() < 0.6, yearly
    assert yearly.is_monotonic_decreasing


def test_questions_of_2016_2018_are_blank_in_2019(national):
    in_2019 = national.PERIODO.str[:4] == '2019'
    for column in synth.ASKED_UNTIL_2018:
        assert (national.loc[in_2019, column] == '').all() and (national.loc[~in_2019, column] == '').mean() < 0.05


def test_institutions_and_homicide_context_carry_signal(national):
    expected = pd.Series(expected_global_score(national))
    by_institution = expected.groupby(national.INST_COD_INSTITUCION.values).mean()
    largest = national.INST_COD_INSTITUCION.value_counts().index[:6]
    assert by_institution[largest].max() - expected.mean() > 10                 # flagships among the largest
    rate = synth._homicide_rate(national.ESTU_COD_RESIDE_MCPIO, national.PERIODO.astype(int) // 10)
    known = ~np.isnan(rate)
    assert known.mean() > 0.98 and np.corrcoef(rate[known], expected[known])[0, 1] < -0.05


def test_oracle_reads_raw_and_clean_alike(small):
    ingest = pytest.importorskip('estudiapp_core.ingest')
    clean = ingest.ingest_frame(small).table
    kept = small.set_index('ESTU_CONSECUTIVO').loc[clean.ESTU_CONSECUTIVO.astype(str)].reset_index()
    assert np.allclose(expected_global_score(clean), expected_global_score(kept))
    assert oracle_metrics(clean) == pytest.approx(oracle_metrics(kept))


def test_write_streams_in_chunks_to_the_same_rows(tmp_path, monkeypatch, small):
    monkeypatch.setattr(synth, 'WRITE_CHUNK_ROWS', 777)
    path = write_synthetic(tmp_path/'cohort.csv', 4000, seed=5, periods=(20183, 20195, 20203), sep='|', encoding='utf-8-sig')
    assert path.read_bytes().startswith(b'\xef\xbb\xbfESTU_TIPODOCUMENTO|ESTU_NACIONALIDAD|')
    back = pd.read_csv(path, sep='|', encoding='utf-8-sig', dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, small, check_dtype=False)


def test_cli_writes_semicolon_latin1_files_pandas_reads(tmp_path, capsys):
    out = tmp_path/'raw'/'saberpro.csv'
    assert main(['synth', '--rows', '3000', '--seed', '9', '--out', str(out), '--sep', ';', '--encoding', 'latin-1']) == 0
    assert 'wrote 3,000 synthetic students' in capsys.readouterr().out
    raw = out.read_bytes()
    assert 'BOGOTÁ'.encode('latin-1') in raw and b'\xc3' not in raw  # Latin-1, not UTF-8
    back = pd.read_csv(out, sep=';', encoding='latin-1', dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, synthesize(3000, seed=9), check_dtype=False)
    assert sorted(p.name for p in out.parent.iterdir()) == ['saberpro.csv']  # no temporary file left


@pytest.mark.parametrize('args, message', [
    (['--rows', 'lots'], '--rows must be a whole number'), (['--rows', '-3'], 'rows must be a whole number from 1'),
    (['--seed', 'x'], '--seed must be a whole number'), (['--sep', '\t'], 'sep must be one of'),
    (['--encoding', 'utf-16'], 'encoding must be one of'), (['--periods', '2018'], 'periods must be exam periods'),
    (['--periods', '20183', '20183'], 'must not repeat')])
def test_cli_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path/'bad.csv'
    assert main(['synth', '--out', str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_output_path_that_is_a_directory_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match='is a directory'): write_synthetic(tmp_path, 10)
