"""Model layer: the low-score label, the temporal split and its bad inputs, a preprocessor fitted on training rows only,
quality against the synthetic oracle, and honest metrics on the real sample beside the naive baseline."""
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from estudiapp_core.classifier import classification_metrics, search_classifier
from estudiapp_core.core import BadInput
from estudiapp_core.ingest import ingest_files, ingest_frame
from estudiapp_core.linear import fit_linear, regression_metrics
from estudiapp_core.preprocess import (PREDICTORS, TARGET, TOP_INSTITUTIONS, build_preprocessor, feature_columns,
                                       feature_groups, low_score_label, period_percentile, predictor_report, random_split, retired_predictors,
                                       split_data, temporal_split)
from estudiapp_core.synth import oracle_metrics, synthesize

REAL = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'saberpro_2018_2021_polijic_raw.csv'


@pytest.fixture(scope='module')
def cohort():
    "A clean synthetic cohort of 40,000 students in two periods of ICFES's full layout (the tests below are about two)"
    return ingest_frame(synthesize(40_000, seed=11, periods=(20183, 20195))).table


@pytest.fixture(scope='module')
def fitted(cohort):
    "Split, preprocessor and matrices of the cohort"
    split = temporal_split(cohort, seed=0)
    pre = build_preprocessor(split.train).fit(split.train)
    X = {k: pre.transform(getattr(split, k)) for k in ('train', 'valid', 'test')}
    return split, pre, X


@given(st.lists(st.integers(0, 300), min_size=1, max_size=200), st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_period_percentile_is_share_at_or_below(scores, periods):
    frame = pd.DataFrame({'PERIODO': [20181 + (i % periods) for i in range(len(scores))], TARGET: np.array(scores, float)})
    percentile = period_percentile(frame)
    for period, group in frame.groupby('PERIODO'):
        s = group[TARGET].to_numpy()
        share = np.array([(s <= v).mean() for v in s])
        np.testing.assert_array_equal(percentile[group.index].to_numpy(), np.clip(np.ceil(share*100 - 1e-9), 1, 100))
    low = low_score_label(frame)
    assert set(low.unique()) <= {0, 1}
    assert ((percentile <= 50) == (low == 1)).all()


def test_label_prefers_the_files_percentile(cohort):
    assert 'PERCENTIL_GLOBAL' in cohort
    np.testing.assert_array_equal(low_score_label(cohort), (cohort.PERCENTIL_GLOBAL <= 50).astype(int))
    computed = low_score_label(cohort.drop(columns='PERCENTIL_GLOBAL'))
    assert (computed == low_score_label(cohort)).mean() > 0.97


def test_split_is_temporal_seeded_and_complete(cohort):
    split = temporal_split(cohort, seed=3)
    assert split.test_periods == (20195,) and set(split.test.PERIODO) == {20195}
    assert set(split.train.PERIODO) == set(split.valid.PERIODO) == {20183}
    assert len(split.train) + len(split.valid) + len(split.test) == len(cohort)
    assert 0.13 < len(split.valid)/(len(split.train) + len(split.valid)) < 0.17
    assert temporal_split(cohort, seed=3).valid.index.equals(split.valid.index)
    assert not temporal_split(cohort, seed=4).valid.index.equals(split.valid.index)


@pytest.mark.parametrize('change, message', [
    (lambda c: c[c.PERIODO == 20183], 'at least two exam periods'),
    (lambda c: c.groupby('PERIODO').head(30), 'too few rows'),
    (lambda c: c.drop(columns=TARGET), 'no target'),
    (lambda c: c.assign(PUNT_GLOBAL=150.0, PERCENTIL_GLOBAL=50.0), 'target is constant'),
])
def test_split_refuses_bad_input(cohort, change, message):
    with pytest.raises(BadInput, match=message): temporal_split(change(cohort))


def test_preprocessor_is_fitted_on_training_rows_only(cohort, fitted):
    split, pre, X = fitted
    # fitting sees only the training rows: refitting with the test rows changed beyond recognition gives the same numbers
    older = split.test.assign(AGE=split.test.AGE + 40)
    again = build_preprocessor(split.train).fit(split.train)
    np.testing.assert_array_equal(again.transform(split.train), X['train'])
    np.testing.assert_array_equal(again.transform(older), pre.transform(older))
    assert np.allclose(X['train'][:, list(pre.get_feature_names_out()).index('numeric__AGE')].mean(), 0)
    leaky = build_preprocessor(split.train).fit(pd.concat([split.train, older]))  # the seed's mistake, for contrast
    def age_mean(p): return p.named_transformers_['numeric'].named_steps['scale'].mean_[0]
    assert age_mean(leaky) > age_mean(pre) + 10 and age_mean(again) == age_mean(pre)


def test_constant_columns_are_left_out_and_groups_cover_every_column(fitted):
    split, pre, X = fitted
    train = split.train.assign(INST_ORIGEN='OFICIAL NACIONAL')
    names = build_preprocessor(train).fit(train).get_feature_names_out()
    assert not any('INST_ORIGEN' in n for n in names)
    groups = feature_groups(pre)
    assert len(groups) == X['train'].shape[1]
    assert {'ESTU_DEPTO_RESIDE', 'FAMI_ESTRATOVIVIENDA', 'AGE'} <= set(groups)


def test_unknown_labels_and_blanks_never_break_transform(fitted):
    split, pre, _ = fitted
    odd = split.test.head(50).astype(object)
    odd.loc[odd.index[:25], 'ESTU_DEPTO_RESIDE'] = 'ATLANTIDA'
    odd.loc[odd.index[25:], ['FAMI_ESTRATOVIVIENDA', 'AGE', 'ESTU_GENERO']] = None
    assert np.isfinite(pre.transform(odd)).all()


def test_models_come_within_reach_of_the_oracle(fitted):
    split, pre, X = fitted
    y = {k: getattr(split, k)[TARGET].to_numpy() for k in X}
    low = {k: low_score_label(getattr(split, k)).to_numpy() for k in X}
    oracle = oracle_metrics(split.test)
    linear = fit_linear(X['train'], y['train'], X['valid'], y['valid'])
    # 0.031: the generator has interactions (INSE x stratum, age x method) and an effect for every institution, of
    # which the 30 with most training students keep a column: beyond a linear model of these columns by design
    assert 0 < oracle['r2'] - regression_metrics(y['test'], linear.predict(X['test']))['r2'] < 0.04
    classifier, search = search_classifier(X['train'], low['train'], X['valid'], low['valid'])
    metrics = classification_metrics(low['test'], classifier.low_score_probability(X['test']))
    assert oracle['auc'] - metrics['roc_auc'] < 0.015
    assert metrics['brier'] < 0.25 and search.chosen.sum() == 1


@pytest.mark.skipif(not REAL.exists(), reason='real sample not available')
def test_real_sample_beats_the_naive_baseline_honestly():
    real = ingest_files([REAL]).table
    split = temporal_split(real, seed=0)
    assert split.test_periods == (20212, 20213)
    pre = build_preprocessor(split.train).fit(split.train)
    X = {k: pre.transform(getattr(split, k)) for k in ('train', 'valid', 'test')}
    y = {k: getattr(split, k)[TARGET].to_numpy() for k in X}
    low = {k: low_score_label(getattr(split, k)).to_numpy() for k in X}
    linear = fit_linear(X['train'], y['train'], X['valid'], y['valid'])
    model = regression_metrics(y['test'], linear.predict(X['test']))
    naive = regression_metrics(y['test'], np.full(len(y['test']), y['train'].mean()))
    assert model['rmse'] < naive['rmse'] and model['r2'] < 0.3  # little signal in one institution: honest, not magic
    report = predictor_report(pre, split.train)  # the 57-column export: the full layout's predictors are absent
    assert {'ESTU_INSE_INDIVIDUAL', 'ESTU_NSE_INDIVIDUAL', 'ESTU_AREARESIDE', 'CONTEXT_RATE'} <= set(report['absent'])
    assert 'GRUPOREFERENCIA' in report['used']  # derived from the programs' núcleo, as the original did
    assert 'INST_COD_INSTITUCION' in report['constant'] and 'AGE' in report['used']
    classifier, _ = search_classifier(X['train'], low['train'], X['valid'], low['valid'])
    auc = classification_metrics(low['test'], classifier.low_score_probability(X['test']))['roc_auc']
    assert 0.55 < auc < 0.85


FULL_ONLY = ('ESTU_INSE_INDIVIDUAL', 'ESTU_NSE_INDIVIDUAL', 'ESTU_AREARESIDE', 'ESTU_SEMESTRECURSA', 'ESTU_DEDICACIONLECTURADIARIA',
             'ESTU_DEDICACIONINTERNET', 'FAMI_NUMLIBROS', 'GRUPOREFERENCIA', 'ESTU_EXTERIOR', 'FOREIGN_NATIONAL', 'CONTEXT_RATE')


def test_the_full_layouts_predictors_are_used_when_present(full_layout_cohort):
    # 2019 no longer asks three of them (GRUPOREFERENCIA is derived from the núcleo): learnt from, their blanks would
    # mark every 2019 student down (R² 0.270 instead of 0.338 here); the next cohort will not answer them either
    asked_until_2018 = ['ESTU_DEDICACIONLECTURADIARIA', 'ESTU_DEDICACIONINTERNET', 'FAMI_NUMLIBROS']
    retired = retired_predictors(full_layout_cohort)
    assert retired == asked_until_2018
    split = temporal_split(full_layout_cohort.drop(columns=retired), seed=0)
    pre = build_preprocessor(split.train).fit(split.train)
    report = predictor_report(pre, split.train, retired=retired)
    current = [c for c in FULL_ONLY if c not in retired]
    assert set(current) | {'INST_COD_INSTITUCION'} <= set(report['used']) and report['absent'] == report['constant'] == []
    assert report['retired'] == retired and set(current) <= set(feature_groups(pre))
    cols = feature_columns(split.train)
    assert cols['numeric'] == ['AGE', 'CONTEXT_RATE', 'ESTU_INSE_INDIVIDUAL'] and 'ESTU_SEMESTRECURSA' in cols['ordinal']
    # they carry signal, so a linear model with them beats the same model on the 57 columns only (0.338 against 0.316:
    # stratum, parents' education and the institution already carry much of what INSE says)
    def r2(train, valid, test):
        pre = build_preprocessor(train).fit(train)
        linear = fit_linear(pre.transform(train), train[TARGET].to_numpy(), pre.transform(valid), valid[TARGET].to_numpy())
        return regression_metrics(test[TARGET].to_numpy(), linear.predict(pre.transform(test)))['r2']
    without = [p.drop(columns=current) for p in (split.train, split.valid, split.test)]
    assert r2(split.train, split.valid, split.test) > r2(*without) + 0.015
    assert set(predictor_report(build_preprocessor(without[0]).fit(without[0]), without[0], retired=retired)['absent']) == set(current)


def test_ordinals_follow_the_schema_order(full_layout_cohort):
    split = temporal_split(full_layout_cohort, seed=0)
    pre = build_preprocessor(split.train).fit(split.train)
    ordinal = pre.named_transformers_['ordinal'].named_steps['rank']
    columns = {part: cols for part, _, cols in pre.transformers_}
    semester = list(ordinal.categories_[columns['ordinal'].index('ESTU_SEMESTRECURSA')])
    assert semester[0] == '1' and semester[-1] == '12 o más' and len(semester) == 12
    odd = split.test.head(3).astype(object)
    odd['ESTU_SEMESTRECURSA'] = ['12 o más', 'trece', None]  # an unknown label is missing, like a blank
    X = pre.transform(odd)
    column = list(pre.get_feature_names_out()).index('ordinal__ESTU_SEMESTRECURSA')
    assert X[0, column] > X[1, column] == X[2, column]


def test_the_top_institutions_are_counted_on_training_rows_only(cohort):
    split = temporal_split(cohort, seed=0)
    # in the test periods one new institution takes half the students: counted over all rows it would be the top one
    test = split.test.assign(INST_COD_INSTITUCION=np.where(np.arange(len(split.test)) % 2, 'NEW', split.test.INST_COD_INSTITUCION))
    pre = build_preprocessor(split.train).fit(split.train)
    institution = pre.named_transformers_['institution'].named_steps['onehot']
    rare = set(institution.infrequent_categories_[0])
    kept = [c for c in institution.categories_[0] if c not in rare]
    assert 'NEW' not in institution.categories_[0] and len(kept) == TOP_INSTITUTIONS
    students = split.train.INST_COD_INSTITUCION.value_counts()
    assert students[kept].min() >= students.drop(kept).max()
    leaky = build_preprocessor(split.train).fit(pd.concat([split.train, test]))  # the leak, for contrast
    assert 'NEW' in leaky.named_transformers_['institution'].named_steps['onehot'].categories_[0]
    names = list(pre.get_feature_names_out())
    X = pre.transform(test[test.INST_COD_INSTITUCION == 'NEW'].head(5))
    assert (X[:, names.index('institution__INST_COD_INSTITUCION_infrequent_sklearn')] == 1).all()  # unseen: the shared column


def test_random_split_of_a_single_period(cohort):
    one = cohort[cohort.PERIODO == 20195]
    with pytest.raises(BadInput, match='random split'): temporal_split(one)
    split = split_data(one, 'random', test_share=0.2, seed=4)
    assert split.kind == 'random' and 'random' in split.description.lower()
    assert 0.18 < len(split.test) / len(one) < 0.22
    assert len(split.train) + len(split.valid) + len(split.test) == len(one)
    assert not set(split.test.ESTU_CONSECUTIVO) & (set(split.train.ESTU_CONSECUTIVO) | set(split.valid.ESTU_CONSECUTIVO))
    assert split_data(one, 'random', 0.2, seed=4).test.index.equals(split.test.index)
    assert not split_data(one, 'random', 0.2, seed=5).test.index.equals(split.test.index)
    several = random_split(cohort, test_share=0.3, seed=0)  # with several years only the latest is tested
    assert set(several.test.PERIODO) == {20195} and 0.28 < len(several.test) / (cohort.PERIODO == 20195).sum() < 0.32
    assert temporal_split(cohort).kind == 'temporal' and 'next cohort' in temporal_split(cohort).description
    with pytest.raises(BadInput, match='unknown split'): split_data(cohort, 'by school')


@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=60))
@settings(max_examples=60, deadline=None)
def test_best_f1_cut_beats_every_other_cut(rows):
    from estudiapp_core.classifier import _flag_counts, best_f1_cut, threshold_table
    y, p = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    if y.sum() == 0: return  # no low score: F1 is 0 at every cut
    best = _flag_counts(y, p, best_f1_cut(y, p))['f1']
    assert all(_flag_counts(y, p, c)['f1'] <= best + 1e-12 for c in np.unique(p))
    table = threshold_table(y, p, cuts=(0.5,))
    assert table.loc['best F1', 'f1'] == best and 0 <= table.loc['0.50', 'flagged_share'] <= 1


def test_deciles_split_students_evenly_and_lift_averages_one():
    from estudiapp_core.classifier import decile_table
    rng = np.random.default_rng(3)
    p = rng.random(1003)
    high = (rng.random(1003) < p).astype(int)
    table = decile_table(high, p, 100 + 100*p)
    assert table.students.sum() == 1003 and table.students.max() - table.students.min() <= 1
    assert np.isclose((table.lift*table.students).sum()/table.students.sum(), 1.0)
    assert table.high_share.iloc[-1] > 0.8 > 0.2 > table.high_share.iloc[0]  # a calibrated ranking
    assert table.mean_score.is_monotonic_increasing and (table.p_high_max.shift() <= table.p_high_min).iloc[1:].all()


def test_shap_chunks_and_stored_explanation_add_up(fitted):
    "Chunked contributions equal one call; the shap.Explanation of grouped values adds up to each student's margin"
    import xgboost as xgb
    from estudiapp_core.classifier import LowScoreClassifier
    from estudiapp_core.explain import group_shap, shap_explanation, shap_values
    split, pre, X = fitted
    low = {k: low_score_label(getattr(split, k)).to_numpy() for k in ('train', 'valid')}
    model = LowScoreClassifier(max_depth=2, n_estimators=60).fit(X['train'], low['train'], X['valid'], low['valid'])
    rows = X['test'][:2500]
    values = shap_values(model.booster_, rows, chunk_rows=700)
    np.testing.assert_array_equal(values, shap_values(model.booster_, rows))
    grouped, features = group_shap(values, feature_groups(pre))
    explanation = shap_explanation(grouped, features, values[0, -1], split.test.iloc[:2500])
    margin = model.booster_.predict(xgb.DMatrix(rows), output_margin=True)
    np.testing.assert_allclose(explanation.values.sum(axis=1) + explanation.base_values, margin, atol=1e-4)
