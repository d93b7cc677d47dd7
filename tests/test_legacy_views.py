"The seed's dashboard views by name (sql/910_legacy_views.sql) and the full layout's columns in the database: columns and types as the seed's DDL had them, numbers as pandas computes them from the loaded rows"
import numpy as np
import pandas as pd
import psycopg2
import pytest

from estudiapp_core import load, queries
from estudiapp_core.context import department_context
from estudiapp_core.core import BadInput
from estudiapp_core.schema import DEPARTMENTS, REFERENCE_GROUPS

DEPARTMENT_CODES = [*DEPARTMENTS, '99999']  # sql/010_reference.sql seeds abroad too

# The seed's DDL script, in order: (column, type as information_schema names it)
LEGACY_VIEWS = {
    'mv_getscorestats_v5': [('estu_cod_reside_depto_norm', 'integer'), ('dep_nombre', 'character varying'),
                            ('mean_punt_global', 'numeric'), ('max_punt_global', 'numeric'), ('min_punt_global', 'numeric'),
                            ('count', 'bigint'), ('year', 'character varying'), ('homdep_tasahomicidios', 'double precision')],
    'mv_getscore_perinst_v4': [('university', 'character varying'), ('state', 'text'), ('meanscore', 'numeric'),
                               ('year', 'numeric'), ('totalstudents', 'bigint')],
    'mv_getsocialfactors_v2': [('year', 'numeric'), ('estu_cod_reside_depto_norm', 'integer'), ('dep_nombre', 'character varying'),
                               ('estu_inse_individual', 'numeric'), ('estu_metodo_prgm', 'character varying'),
                               ('gruporeferencia', 'character varying'), ('punt_global', 'real')],
    'mv_getstatsxgauges_v2': [('year', 'numeric'), ('estu_nacionalidad', 'character varying'), ('estu_cod_reside_depto_norm', 'integer'),
                              ('dep_nombre', 'character varying'), ('prompuntglobal', 'numeric'), ('count', 'bigint')],
    'mv_promedio_periodo_departament': [('periodo', 'character varying'), ('estu_cod_depto_presentacion_norm', 'integer'),
                                        ('dep_nombre', 'character varying'), ('avg', 'double precision')],
}
# what the 57-column export (and so the synthetic cohort) lacks of the full layout
FULL_LAYOUT_ONLY = ['ESTU_INSE_INDIVIDUAL', 'ESTU_NSE_INDIVIDUAL', 'GRUPOREFERENCIA', 'ESTU_AREARESIDE', 'ESTU_SEMESTRECURSA']


def full_layout(clean:pd.DataFrame, seed:int=0)->pd.DataFrame:
    "The synthetic clean table with the full layout's columns, drawn at random (a few missing, codes without their zeros)"
    rng = np.random.default_rng(seed)
    n = len(clean)
    inse = rng.uniform(5, 99, n).round(2)
    inse[rng.random(n) < 0.05] = np.nan
    nationality = rng.choice(['COLOMBIA', 'VENEZUELA', 'ECUADOR'], n, p=[0.95, 0.03, 0.02])
    exam_place = clean.ESTU_COD_RESIDE_DEPTO.astype('string').fillna('11').where(rng.random(n) < 0.8, '11')
    return clean.assign(
        ESTU_INSE_INDIVIDUAL=inse,
        ESTU_NSE_INDIVIDUAL=pd.Series(np.digitize(np.nan_to_num(inse), [35, 50, 65]) + 1, dtype='string').where(~np.isnan(inse)),
        ESTU_NACIONALIDAD=nationality, FOREIGN_NATIONAL=np.where(nationality == 'COLOMBIA', 'No', 'Si'),
        GRUPOREFERENCIA=rng.choice(REFERENCE_GROUPS, n), ESTU_AREARESIDE=rng.choice(['Area Rural', 'Cabecera Municipal'], n),
        ESTU_SEMESTRECURSA=rng.choice(['8', '9', '10', '12 o más'], n),
        ESTU_COD_DEPTO_PRESENTACION=exam_place.str.lstrip('0'),  # as a number-typed column would read it
        ESTU_COD_MCPIO_PRESENTACION=exam_place + '001')


@pytest.fixture(scope='module')
def loaded(pg_server):
    "URL of a database holding a synthetic cohort with the full layout's columns; and that clean table"
    url = pg_server.new_database('legacy_views')
    clean = full_layout(load.synthetic_run(rows=3000, seed=11).clean)
    report = load.load_clean(url, clean)
    assert report['written'] == len(clean)
    return url, clean


def published(clean:pd.DataFrame)->pd.DataFrame:
    "The rows the views count, with the columns pandas groups by"
    status = clean.get('ESTU_ESTADOINVESTIGACION', pd.Series(pd.NA, index=clean.index))
    rows = clean[clean.PUNT_GLOBAL.notna() & (status.isna() | (status == 'PUBLICAR'))].copy()
    rows['year'] = rows.PERIODO // 10
    rows['score'] = rows.PUNT_GLOBAL.astype('float32').astype(float)  # the table holds real
    rows['code'] = rows.ESTU_COD_RESIDE_DEPTO.astype('string')
    return rows


def in_departments(rows:pd.DataFrame)->pd.DataFrame:
    "The rows the seed's views keep: those whose department of residence is known (they joined the departments)"
    return rows[rows.code.isin(DEPARTMENT_CODES)]


def fetch(url:str, query:str, params=None)->pd.DataFrame:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


@pytest.mark.parametrize('view', LEGACY_VIEWS)
def test_legacy_view_has_the_seeds_columns_and_types(loaded, view):
    url, _ = loaded
    columns = fetch(url, 'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s '
                         'ORDER BY ordinal_position', ('estudiapp', view))
    assert list(columns.itertuples(index=False, name=None)) == LEGACY_VIEWS[view]


def test_scorestats_agrees_with_pandas(loaded):
    url, clean = loaded
    view = fetch(url, 'SELECT * FROM estudiapp.mv_getscorestats_v5').astype({'mean_punt_global': float, 'max_punt_global': float,
                                                                            'min_punt_global': float})
    rows = in_departments(published(clean))
    expected = rows.groupby(['year', 'code']).score.agg(['mean', 'max', 'min', 'size']).reset_index()
    got = view.assign(code=view.estu_cod_reside_depto_norm.map(lambda c: f'{c:02d}'), year=view.year.astype(int))
    both = expected.merge(got, on=['year', 'code'], how='outer', indicator=True)
    assert (both._merge == 'both').all() and len(both) > 40
    assert np.allclose(both['mean'], both.mean_punt_global, atol=0.006)
    assert np.allclose(both['max'], both.max_punt_global, atol=0.006) and np.allclose(both['min'], both.min_punt_global, atol=0.006)
    assert (both['size'] == both['count']).all()
    rates = department_context().rename(columns={'COD_DEPTO': 'code', 'YEAR': 'year'})
    with_rates = both.merge(rates, on=['code', 'year'])
    assert len(with_rates) == len(both) and np.allclose(with_rates.RATE, with_rates.homdep_tasahomicidios)
    assert set(both.dep_nombre) <= set(DEPARTMENTS.values())


def test_perinst_agrees_with_pandas(loaded):
    url, clean = loaded
    view = fetch(url, 'SELECT * FROM estudiapp.mv_getscore_perinst_v4')
    rows = published(clean).assign(institution=lambda d: d.INST_NOMBRE_INSTITUCION.astype(str))
    # one row per institution (by code: two institutions may share a name) and year, 10 students or more
    expected = (rows.groupby(['year', 'INST_COD_INSTITUCION', 'institution']).score.agg(['mean', 'size']).reset_index()
                .query('size >= 10').sort_values(['year', 'institution', 'size', 'mean'], ignore_index=True))
    got = view.assign(year=view.year.astype(int), meanscore=view.meanscore.astype(float)).sort_values(
        ['year', 'university', 'totalstudents', 'meanscore'], ignore_index=True)
    assert len(got) == len(expected) > 10
    assert (got.university == expected.institution).all() and (got.totalstudents == expected['size']).all()
    assert np.allclose(got.meanscore, expected['mean'], atol=0.006)
    # the state is where most of the institution's students took the exam
    place = rows.assign(place=rows.ESTU_COD_MCPIO_PRESENTACION.str[:2].map(DEPARTMENTS))
    first = expected.iloc[0]
    counts = place[place.INST_COD_INSTITUCION == first.INST_COD_INSTITUCION].place.value_counts()
    assert got.state.iloc[0] in counts[counts == counts.max()].index


def test_socialfactors_is_one_row_per_student(loaded):
    url, clean = loaded
    view = fetch(url, 'SELECT * FROM estudiapp.mv_getsocialfactors_v2')
    rows = in_departments(published(clean))
    assert len(view) == len(rows)
    assert np.isclose(view.estu_inse_individual.dropna().astype(float).mean(), rows.ESTU_INSE_INDIVIDUAL.astype('float32').mean(), atol=1e-3)
    assert view.estu_inse_individual.isna().sum() == rows.ESTU_INSE_INDIVIDUAL.isna().sum()
    assert view.gruporeferencia.value_counts().to_dict() == rows.GRUPOREFERENCIA.value_counts().to_dict()
    assert view.estu_metodo_prgm.value_counts().to_dict() == rows.ESTU_METODO_PRGM.astype(str).value_counts().to_dict()


def test_gauges_agree_with_pandas(loaded):
    url, clean = loaded
    view = fetch(url, 'SELECT * FROM estudiapp.mv_getstatsxgauges_v2')
    expected = in_departments(published(clean)).groupby(['year', 'ESTU_NACIONALIDAD', 'code']).score.agg(['mean', 'size']).reset_index()
    got = view.assign(year=view.year.astype(int), code=view.estu_cod_reside_depto_norm.map(lambda c: f'{c:02d}'))
    both = expected.merge(got, left_on=['year', 'ESTU_NACIONALIDAD', 'code'], right_on=['year', 'estu_nacionalidad', 'code'],
                          how='outer', indicator=True)
    assert (both._merge == 'both').all() and {'VENEZUELA', 'ECUADOR'} <= set(both.estu_nacionalidad)
    assert np.allclose(both['mean'], both.prompuntglobal.astype(float)) and (both['size'] == both['count']).all()


def test_promedio_periodo_departament_is_by_the_exam_place(loaded):
    url, clean = loaded
    view = fetch(url, 'SELECT * FROM estudiapp.mv_promedio_periodo_departament')
    rows = published(clean).assign(place=lambda d: d.ESTU_COD_DEPTO_PRESENTACION.str.zfill(2))
    expected = rows.groupby(['PERIODO', 'place']).score.mean().reset_index()
    got = view.assign(PERIODO=view.periodo.astype(int), place=view.estu_cod_depto_presentacion_norm.map(lambda c: f'{c:02d}'))
    both = expected.merge(got, on=['PERIODO', 'place'], how='outer', indicator=True)
    assert (both._merge == 'both').all() and np.allclose(both.score, both.avg)


def test_full_layout_columns_load_normalized_and_twice_write_nothing(loaded):
    url, clean = loaded
    stored = fetch(url, 'SELECT estu_consecutivo, estu_cod_depto_presentacion, foreign_national::text, estu_nse_individual::text '
                        'FROM estudiapp.exam_result ORDER BY estu_consecutivo')
    assert stored.estu_cod_depto_presentacion.isin(DEPARTMENT_CODES).all()  # '5' came back as '05'
    assert (stored.foreign_national == 'Si').sum() == (clean.FOREIGN_NATIONAL == 'Si').sum()
    assert load.load_clean(url, clean)['written'] == 0
    assert fetch(url, 'SELECT count(*) AS n FROM estudiapp.department_context').n[0] == len(department_context())


def test_a_file_without_the_full_layout_loads_null(pg_database):
    from estudiapp_core.ingest import ingest_frame
    from estudiapp_core.synth import synthesize
    clean = ingest_frame(synthesize(400, seed=12, periods=(20183, 20195), layout='datos')).table  # the 57-column export
    absent = [c for c in FULL_LAYOUT_ONLY if c != 'GRUPOREFERENCIA']  # the reference group follows from the núcleo
    assert not set(absent) & set(clean) and clean.GRUPOREFERENCIA.notna().all()
    load.load_clean(pg_database, clean)
    nulls = fetch(pg_database, 'SELECT count(*) FILTER (WHERE estu_inse_individual IS NULL AND estu_areareside '
                               'IS NULL AND estu_semestrecursa IS NULL AND estu_nse_individual IS NULL) AS n, count(*) AS total, '
                               'count(gruporeferencia) AS grouped FROM estudiapp.exam_result')
    assert nulls.n[0] == nulls.total[0] == nulls.grouped[0] == len(clean)
    # the views still answer, with what the file has
    social = fetch(pg_database, 'SELECT count(*) AS n, count(estu_inse_individual) AS inse FROM estudiapp.mv_getsocialfactors_v2')
    assert (social.n[0], social.inse[0]) == (len(in_departments(published(clean))), 0)


def test_an_impossible_inse_is_named(pg_database):
    clean = full_layout(load.synthetic_run(rows=200, seed=13).clean)
    clean.loc[clean.index[7], 'ESTU_INSE_INDIVIDUAL'] = 150.0
    with pytest.raises(BadInput, match=r'row 8 \(ESTU_CONSECUTIVO .*\): ESTU_INSE_INDIVIDUAL 150.0 breaks CHECK .*exam_result_estu_inse_individual_range'):
        load.load_clean(pg_database, clean)


# --- the dashboard's questions over a range (estudiapp_core.queries) ------------------------------------------------

def test_summary_cards_agree_with_pandas(loaded):
    url, clean = loaded
    rows = published(clean)
    cards = queries.summary(url, year_from=2018, year_to=2019)
    assert len(cards) == 1 and cards[0]['students'] == len(clean[clean.PUNT_GLOBAL.notna()])
    per_year = queries.summary(url, year_from=2018, department='Valle', by_year=True)
    valle = rows[rows.code == '76'].groupby('year').score.agg(['mean', 'max', 'min', 'size'])
    assert [r['students'] for r in per_year] == valle['size'].tolist()
    assert np.allclose([r['mean_score'] for r in per_year], valle['mean'], atol=0.051)
    assert [r['max_score'] for r in per_year] == valle['max'].tolist()
    rates = department_context().query("COD_DEPTO == '76'").set_index('YEAR').RATE
    assert np.allclose([r['homicide_rate'] for r in per_year], rates.loc[valle.index].round(1), atol=0.051)


def test_department_factors_count_inse_bands_and_reference_groups(loaded):
    url, clean = loaded
    rows = published(clean)
    antioquia = rows[rows.code == '05']
    answer = queries.department_factors(url, year_from=2018, department='05', factor='inse_band')
    bands = (np.minimum(antioquia.ESTU_INSE_INDIVIDUAL.astype('float32') // 10, 9) * 10)
    labels = bands.map(lambda b: f'{int(b)}-{int(b) + 10}', na_action='ignore').fillna('(missing)')
    assert {r['label']: r['students'] for r in answer} == labels.value_counts().to_dict()
    groups = queries.department_factors(url, year_from=2018, department='05', factor='reference_group')
    assert sum(r['students'] for r in groups) == len(antioquia) and len(groups) > 10


def test_nationalities_and_institution_ranking(loaded):
    url, clean = loaded
    rows = published(clean)
    gauges = {r['nationality']: r for r in queries.nationalities(url, year_from=2018)}
    counts = rows.ESTU_NACIONALIDAD.value_counts()
    assert {k: v['students'] for k, v in gauges.items()} == counts.to_dict()
    assert gauges['VENEZUELA']['foreign_national'] == 'Si' and gauges['COLOMBIA']['foreign_national'] == 'No'
    ranking = queries.institution_ranking(url, year_from=2018, year_to=2019, min_students=10, limit=1000)
    assert ranking and all(r['years'] and r['department'] for r in ranking)
    assert ranking == sorted(ranking, key=lambda r: -r['mean_score'])
