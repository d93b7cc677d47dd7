"""The ingest end to end, as a user runs it: the real sample, its rewritten copies, a corpus of broken files through the CLI.

The small examples after each function live in nbs/01a_ingest.ipynb (the real sample's row counts, its blank strata,
the Atlántico header); the exhaustive checks live here, each in one place."""
import io, zipfile
from pathlib import Path
import numpy as np, pandas as pd, pytest
from pandas.testing import assert_frame_equal as _assert_frame_equal
from estudiapp_core.cli import main
from estudiapp_core.core import BadInput
from estudiapp_core.ingest import example_context, ingest_files, ingest_frame, read_context
from estudiapp_core.schema import AGE_BOUNDS, COLUMNS, DERIVED

DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'  # real ICFES samples (read-only, absent on a fresh clone)
SAMPLE = DATA/'saberpro_2018_2021_polijic_raw.csv'
ATLANTICO = DATA/'saberpro_2023_atlantico_rc.csv'
SUCRE = DATA/'saberpro_2019_sucre_full_layout.csv'  # the full 105-column layout, double-encoded, with spreadsheet damage
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason='real sample ../shared/data absent')
needs_sucre = pytest.mark.skipif(not SUCRE.exists(), reason='real sample ../shared/data absent')
needs_atlantico = pytest.mark.skipif(not ATLANTICO.exists(), reason='real sample ../shared/data absent')


@pytest.fixture(scope='module')
def raw_rows():
    "Raw rows to break: the real sample, or a synthetic cohort in the same layout on a fresh clone"
    if SAMPLE.exists(): return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False, encoding='utf-8-sig')
    synth = pytest.importorskip('estudiapp_core.synth')
    return synth.synthesize(300, seed=3, layout='datos')  # the export's 57 columns, as the real sample


@pytest.fixture(scope='module')
def polijic():
    "The real sample, ingested"
    return ingest_files(SAMPLE)


def assert_frame_equal(left, right):
    "Same columns, dtypes (categories included) and values; exact, which is also fast for categoricals"
    _assert_frame_equal(left, right, check_exact=True)


def write(df, path, sep=',', encoding='utf-8'):
    "Write raw rows the way ICFES does: no index, every value as text (row i is on line i + 2)"
    df.to_csv(path, sep=sep, encoding=encoding, index=False)
    return path


# --- the real sample -----------------------------------------------------------------------------------------------

@needs_sample
def test_real_sample_facts(polijic):
    r = polijic.report  # rows read, kept and rejected: the notebook's example
    assert set(r.periods.index) == {20183, 20184, 20194, 20195, 20203, 20212, 20213}
    assert r.periods['read'].sum() == 4602
    assert abs(polijic.table.PUNT_GLOBAL.mean() - 148.3) < 0.1
    assert r.rejected == {'annulled result: ESTU_ESTADOINVESTIGACION is VALIDEZ OFICINA JURÍDICA': 2,
                          'annulled result: ESTU_ESTADOINVESTIGACION is NO SE COMPROBO IDENTIDAD DEL EXAMINADO': 1}
    assert (polijic.table.ESTU_ESTADOINVESTIGACION == 'PUBLICAR').all()
    assert polijic.table.ESTU_CONSECUTIVO.is_unique
    assert 'ESTU_TIPODOCUMENTO' in r.files[0]['extra_columns']
    assert list(polijic.table.columns[1 - len(DERIVED):]) == [c for c in DERIVED if c != 'CONTEXT_RATE']


@needs_sample
def test_clean_table_dtypes(polijic):
    t = polijic.table
    assert t.PERIODO.dtype == 'int32' and t.PUNT_GLOBAL.dtype == 'float64' and t.ESTU_CONSECUTIVO.dtype == 'string'
    assert t.FAMI_ESTRATOVIVIENDA.dtype == 'category' and 'Sin Estrato' in t.FAMI_ESTRATOVIVIENDA.cat.categories
    assert t.ESTU_FECHANACIMIENTO.dtype == 'datetime64[ns]'
    assert t.AGE.between(*AGE_BOUNDS).sum() == t.AGE.notna().sum() > 4500
    assert set(t.EXAM_YEAR) == {2018, 2019, 2020, 2021}


@needs_sample
@pytest.mark.parametrize('sep,encoding,lower,shuffle', [(';', 'latin-1', True, False), ('|', 'utf-8', False, True),
                                                        (',', 'utf-8-sig', True, True), (';', 'utf-8', False, False)])
def test_rewritten_copies_give_the_same_table(tmp_path, raw_rows, polijic, sep, encoding, lower, shuffle):
    copy = raw_rows.rename(columns=str.lower) if lower else raw_rows
    if shuffle: copy = copy[copy.columns[np.random.default_rng(0).permutation(len(copy.columns))]]
    ingested = ingest_files(write(copy, tmp_path/'copy.csv', sep, encoding))
    assert_frame_equal(ingested.table, polijic.table)
    assert ingested.report.files[0]['separator'] == sep


@needs_sample
def test_windows_line_ends_and_frames(tmp_path, raw_rows, polijic):
    (tmp_path/'crlf.csv').write_bytes(SAMPLE.read_bytes().replace(b'\n', b'\r\n'))
    assert_frame_equal(ingest_files(tmp_path/'crlf.csv').table, polijic.table)
    assert_frame_equal(ingest_frame(raw_rows).table, polijic.table)


def test_latin1_found_after_the_first_block(tmp_path, raw_rows, monkeypatch):
    from estudiapp_core import ingest
    monkeypatch.setattr(ingest, '_BLOCK', 600)  # the first block is all ASCII header: the encoding looks like UTF-8
    path = write(raw_rows.head(200), tmp_path/'late_latin1.csv', ';', 'latin-1')
    ingested = ingest_files(path)
    assert ingested.report.files[0]['encoding'] == 'Latin-1'
    assert_frame_equal(ingested.table, ingest_frame(raw_rows.head(200)).table)


@needs_sample
def test_several_files(tmp_path, raw_rows, polijic):
    a, b = write(raw_rows[:2000], tmp_path/'a.csv'), write(raw_rows[2000:], tmp_path/'b.csv', ';', 'latin-1')
    both = ingest_files([a, b])
    assert_frame_equal(both.table, polijic.table)
    assert [f['rows'] for f in both.report.files] == [2000, 2602]
    twice = ingest_files([a, a]).report
    published = (raw_rows[:2000].ESTU_ESTADOINVESTIGACION == 'PUBLICAR').sum()
    assert twice.rows_read == 4000 and twice.rows_kept == published
    assert twice.rejected['repeated ESTU_CONSECUTIVO (the first row is kept)'] == published


@needs_sample
def test_clean_table_round_trips_through_parquet(tmp_path, polijic):
    assert main(['ingest', str(SAMPLE), '--out', str(tmp_path/'clean.parquet')]) == 0
    assert_frame_equal(pd.read_parquet(tmp_path/'clean.parquet'), polijic.table)


@needs_sample
def test_cli_summary(tmp_path, capsys):
    out = tmp_path/'out'/'clean.parquet'
    assert main(['ingest', str(SAMPLE), '--out', str(out), '--context', str(write(example_context(), tmp_path/'c.csv')),
                 '--top-institutions', '5']) == 0
    printed = capsys.readouterr().out
    for fact in ['4,602 rows read from 1 file: 4,599 kept, 3 rejected', 'extra columns ignored: ESTU_TIPODOCUMENTO',
                 'per period:', '20195', 'FAMI_ESTRATOVIVIENDA: blank to missing', 'CONTEXT_RATE missing']:
        assert fact in printed
    table = pd.read_parquet(out)
    assert table.CONTEXT_RATE.notna().mean() > 0.9
    assert table.INST_BUCKET.astype(str).eq('2209').all()


# --- the full national layout ---------------------------------------------------------------------------------------

@needs_sucre
def test_full_layout_ingests_with_its_repairs(tmp_path, capsys):
    out = tmp_path/'clean.parquet'
    assert main(['ingest', str(SUCRE), '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    for fact in ['3,023 rows read from 1 file: 3,018 kept, 5 rejected', 'text double-encoded (UTF-8 read as Windows-1252)',
                 'birth dates: YYYY Mon DD', 'MOD_INGLES_DESEM: spreadsheet error to missing', 'FAMI_CUANTOSCOMPARTEBAÑO',
                 'ESTU_INSE_INDIVIDUAL: decimal point restored (thousands separators)      2,924']:
        assert fact in printed, fact
    t = pd.read_parquet(out)
    raw = pd.read_csv(SUCRE, sep=';', dtype=str, keep_default_na=False, encoding='utf-8-sig')
    published = raw[raw.ESTU_ESTADOINVESTIGACION == 'PUBLICAR']
    assert t.ESTU_CONSECUTIVO.tolist() == published.ESTU_CONSECUTIVO.tolist()
    assert (t.PUNT_GLOBAL.to_numpy() == published.PUNT_GLOBAL.astype(float).to_numpy()).all()
    assert t.AGE.notna().mean() >= 0.99
    assert t.ESTU_INSE_INDIVIDUAL.between(1, 100).mean() >= 0.95
    grouped = (published.ESTU_INSE_INDIVIDUAL == '406.650.360.487.561').to_numpy()
    assert grouped.sum() >= 1 and (t.ESTU_INSE_INDIVIDUAL[grouped] == 40.6650360487561).all()
    assert t.ESTU_DEPTO_RESIDE.isin(['BOGOTÁ']).sum() == (raw.ESTU_COD_RESIDE_DEPTO[raw.ESTU_ESTADOINVESTIGACION == 'PUBLICAR'] == '11').sum() > 0
    assert set(t.ESTU_COD_DEPTO_PRESENTACION.dropna().str.len()) == {2} and '08' in set(t.ESTU_COD_DEPTO_PRESENTACION)
    assert t.GRUPOREFERENCIA.notna().all() and t.GRUPOREFERENCIA.value_counts().index[0] == 'ADMINISTRACIÓN Y AFINES'


@needs_sample
def test_exam_abroad_is_missing_and_counted(polijic):
    assert polijic.report.repairs[('ESTU_COD_DEPTO_PRESENTACION', 'abroad (department 00) to missing')] == 2
    assert polijic.report.repairs[('ESTU_COD_MCPIO_PRESENTACION', 'abroad (department 00) to missing')] == 2
    assert set(polijic.table.ESTU_COD_DEPTO_PRESENTACION.dropna()) <= set(COLUMNS['ESTU_COD_DEPTO_PRESENTACION'].categories)


@pytest.mark.parametrize('dates,order,read', [
    (['03/14/1997 10:30', '01/02/1998 00:00'], 'MM/DD/YYYY: a second field over 12', ['1997-03-14', '1998-01-02']),
    (['14/03/1997', '01/02/1998'], 'DD/MM/YYYY: a first field over 12', ['1997-03-14', '1998-02-01']),
    (['03/04/1997', '01/02/1998'], "DD/MM/YYYY, the dictionary's: ambiguous, no day over 12", ['1997-04-03', '1998-02-01']),
])
def test_birth_date_order_is_found_per_file(tmp_path, raw_rows, dates, order, read):
    rows = raw_rows.head(2).copy()
    rows['ESTU_FECHANACIMIENTO'] = dates
    ingested = ingest_files(write(rows, tmp_path/'dates.csv'))
    assert ingested.report.files[0]['date_format'] == order
    assert ingested.table.ESTU_FECHANACIMIENTO.dt.strftime('%Y-%m-%d').tolist() == read


def test_unknown_labels_rare_are_missing_common_are_rejected(tmp_path, capsys, raw_rows):
    rows = pd.concat([raw_rows.head(100)] * 3, ignore_index=True)
    rows['ESTU_CONSECUTIVO'] = [f'EK{i:09}' for i in range(len(rows))]
    rows.loc[[7, 250], 'ESTU_METODO_PRGM'] = 'HIBRIDA'  # 2 of 300 rows: 0.67 %, over the threshold
    assert main(['ingest', str(write(rows, tmp_path/'common.csv')), '--out', str(tmp_path/'x.parquet')]) == 2
    assert "line 9, column ESTU_METODO_PRGM: 'HIBRIDA' is not a known category" in capsys.readouterr().err
    rows = pd.concat([rows] * 2, ignore_index=True)
    rows['ESTU_CONSECUTIVO'] = [f'EK{i:09}' for i in range(len(rows))]
    rows.loc[250, 'ESTU_METODO_PRGM'] = 'PRESENCIAL'  # 3 of 600 rows: 0.5 %, still rejected
    path = write(rows, tmp_path/'rare.csv')
    with pytest.raises(BadInput): ingest_files(path)
    rows.loc[307, 'ESTU_METODO_PRGM'] = 'PRESENCIAL'  # 2 of 600: under 0.5 %, missing and listed
    path = write(rows, tmp_path/'rare.csv')
    ingested = ingest_files(path)
    assert ingested.report.unknown == [dict(column='ESTU_METODO_PRGM', label='HIBRIDA', rows=2, lines=['rare.csv: 9', 'rare.csv: 552'])]
    assert ingested.table.ESTU_METODO_PRGM.isna().sum() == raw_rows.head(100).ESTU_METODO_PRGM.eq('').sum() * 6 + 2
    assert main(['ingest', str(path), '--out', str(tmp_path/'x.parquet')]) == 0
    assert "unknown labels made missing" in capsys.readouterr().out
    assert main(['ingest', str(path), '--strict', '--out', str(tmp_path/'x.parquet')]) == 2


def _double_encode(text):
    "UTF-8 read as Windows-1252, the five bytes it leaves undefined kept as C1 controls: what the Sucre file went through"
    return ''.join(bytes([b]).decode('cp1252') if 0x80 <= b <= 0x9f and b not in (0x81, 0x8d, 0x8f, 0x90, 0x9d) else chr(b)
                   for b in text.encode('utf-8'))


def test_spreadsheet_errors_and_double_encoding_in_a_frame(raw_rows):
    rows = raw_rows.head(40).copy()
    rows.loc[3, 'MOD_INGLES_DESEM'] = '#N/A'
    rows.loc[4, 'INST_NOMBRE_INSTITUCION'] = '#¡REF!'
    garbled = rows.map(_double_encode)
    r = ingest_frame(garbled).report
    assert r.repairs[('MOD_INGLES_DESEM', 'spreadsheet error to missing')] == 1
    assert r.repairs[('INST_NOMBRE_INSTITUCION', 'spreadsheet error to missing')] == 1
    assert ingest_frame(rows).report.files[0]['double_encoded'] == 0
    assert r.files[0]['double_encoded'] == sum((rows[c] != garbled[c]).sum() for c in rows.columns if c in COLUMNS) > 40
    assert_frame_equal(ingest_frame(garbled).table, ingest_frame(rows).table)


# --- repairs: counted, not rejected -------------------------------------------------------------------------------

def test_repairs_are_counted(tmp_path, raw_rows):
    rows = raw_rows.head(50).copy()
    rows.loc[0, 'ESTU_METODO_PRGM'] = 'DISTANCIA VITUAL'
    rows.loc[1, 'FAMI_ESTRATOVIVIENDA'] = '  Estrato 2 '
    rows.loc[2, 'ESTU_GENERO'] = 'f'
    rows.loc[3, 'ESTU_FECHANACIMIENTO'] = '31/02/1990'
    rows.loc[4, 'ESTU_COD_RESIDE_MCPIO'] = '5001'
    rows.loc[5, 'ESTU_FECHANACIMIENTO'] = '01/01/2017'      # an age of 2: AGE missing
    rows.loc[6, 'ESTU_CONSECUTIVO'] = rows.loc[7, 'ESTU_CONSECUTIVO']  # the same student twice
    ingested = ingest_files(write(rows, tmp_path/'repairable.csv'))
    r, t = ingested.report, ingested.table
    assert r.repairs[('ESTU_METODO_PRGM', 'known misspelling')] == 1
    assert r.repairs[('FAMI_ESTRATOVIVIENDA', 'stray spaces')] == 1
    assert r.repairs[('ESTU_GENERO', 'letter case')] == 1
    assert r.repairs[('ESTU_FECHANACIMIENTO', 'unparseable date to missing')] == 1
    assert r.repairs[('ESTU_COD_RESIDE_MCPIO', 'leading zeros restored')] == 1
    assert r.notes['AGE missing: implausible (under 14 or over 80)'] == 1
    assert r.rejected['repeated ESTU_CONSECUTIVO (the first row is kept)'] == 1
    assert t.ESTU_METODO_PRGM[0] == 'DISTANCIA VIRTUAL' and t.FAMI_ESTRATOVIVIENDA[1] == 'Estrato 2'
    assert t.ESTU_GENERO[2] == 'F' and pd.isna(t.ESTU_FECHANACIMIENTO[3]) and t.ESTU_COD_RESIDE_MCPIO[4] == '05001'
    assert r.rows_repaired >= 5


@needs_atlantico
def test_atlantico_categories_repair_once_ids_are_added(tmp_path):
    # without PERIODO, ESTU_CONSECUTIVO and PUNT_GLOBAL the extract is rejected: the notebook's check_header example
    rc = pd.read_csv(ATLANTICO, dtype=str, keep_default_na=False)
    rc = rc.assign(periodo='20233', estu_consecutivo=[f'EK2023{i:08}' for i in range(len(rc))],
                   punt_global=rc.mod_razona_cuantitat_punt)
    r = ingest_files(write(rc, tmp_path/'atlantico_with_ids.csv')).report
    assert r.rows_kept == len(rc) == 13078
    assert r.repairs[('ESTU_METODO_PRGM', 'known misspelling')] == (rc.estu_metodo_prgm == 'DISTANCIA VITUAL').sum() > 0
    assert r.repairs[('ESTU_PAGOMATRICULA', 'stray spaces')] == (rc.estu_pagomatricula == ' Propios').sum() > 0


# --- the broken corpus: each file rejected through the CLI with file, line, column and value ----------------------

def _lines(raw_rows, n=30):
    buf = io.StringIO()
    raw_rows.head(n).to_csv(buf, index=False)
    return buf.getvalue().splitlines()

def _set(raw_rows, row, column, value, n=30):
    rows = raw_rows.head(n).copy()
    rows.loc[row, column] = value
    return rows

def _text(lines): return ('\n'.join(lines) + '\n').encode()

def _last_field_quoted(lines, line):
    row, last = lines[line - 1].rsplit(',', 1)
    return _text(lines[:line - 1] + [f'{row},"{last}'] + lines[line:])

BROKEN = {  # name: (make a broken file from raw rows, fragments its message must contain, or a function of the rows)
    'missing_column': (lambda o: o.head(30).drop(columns='PERIODO'), ['line 1: missing required column PERIODO']),
    'no_scores': (lambda o: o.head(30).drop(columns=['MOD_INGLES_PUNT', 'PUNT_GLOBAL'], errors='ignore'),
                  ['line 1: missing required column PUNT_GLOBAL (or all five module scores; missing MOD_INGLES_PUNT)']),
    'non_numeric_score': (lambda o: _set(o, 3, 'MOD_INGLES_PUNT', 'abc'),
                          ["line 5, column MOD_INGLES_PUNT: 'abc' is not a number (allowed: 0 to 300)"]),
    'score_301': (lambda o: _set(o, 10, 'MOD_LECTURA_CRITICA_PUNT', '301'),
                  ["line 12, column MOD_LECTURA_CRITICA_PUNT: '301' is out of range (allowed: 0 to 300)"]),
    'negative_score': (lambda o: _set(o, 0, 'MOD_RAZONA_CUANTITAT_PUNT', '-1'), ["line 2, column MOD_RAZONA_CUANTITAT_PUNT: '-1' is out of range"]),
    'unknown_category': (lambda o: _set(_set(o, 4, 'ESTU_METODO_PRGM', 'A DISTANCIA'), 8, 'ESTU_METODO_PRGM', 'A DISTANCIA'),
                         ["line 6, column ESTU_METODO_PRGM: 'A DISTANCIA' is not a known category (allowed: 'PRESENCIAL'",
                          "2 rows in all (line 10: 'A DISTANCIA')"]),
    'unknown_department_code': (lambda o: _set(o, 2, 'ESTU_COD_RESIDE_DEPTO', '77'),
                                ["line 4, column ESTU_COD_RESIDE_DEPTO: '77' is not a DANE department code"]),
    'bad_period': (lambda o: _set(o, 6, 'PERIODO', '2018-3'), ["line 8, column PERIODO: '2018-3' is not an exam period"]),
    'period_digit_9': (lambda o: _set(o, 6, 'PERIODO', '20189'), ["line 8, column PERIODO: '20189' is not an exam period"]),
    'blank_id': (lambda o: _set(o, 1, 'ESTU_CONSECUTIVO', '  '), ["line 3, column ESTU_CONSECUTIVO: '  ' is blank; every row needs one"]),
    'empty_file': (lambda o: b'', ['the file is empty']),
    'header_only': (lambda o: _text(_lines(o)[:1]), ['only a header (line 1), no data rows']),
    'truncated_last_line': (lambda o: _text(_lines(o)[:-1] + [_lines(o)[-1][:60]])[:-1],
                            lambda o: ['line 31: ', f' fields where the header has {o.shape[1]}: the row stops after column ',
                                       'a truncated row?']),
    'extra_field': (lambda o: _text([l + ',x' if i == 12 else l for i, l in enumerate(_lines(o))]),
                    lambda o: [f"line 13: {o.shape[1] + 1} fields where the header has {o.shape[1]}: "
                               f"'x' follows the last column {o.columns[-1]}"]),
    'unclosed_quote': (lambda o: _last_field_quoted(_lines(o), 17),
                       lambda o: [f'line 17, column {o.columns[-1]}: the quote opening', 'is never closed on its line']),
    'tab_separated': (lambda o: o.head(30).to_csv(sep='\t', index=False).encode(), ["line 1: no ',', ';' or '|' between the column names"]),
    'garbage_binary': (lambda o: b'PERIODO,ESTU_CONSECUTIVO\n' + bytes(range(256)) * 4, ['line 2: binary data (a NUL byte']),
    'zip_archive': (lambda o: _zip(o), ['is a zip archive: unzip it first']),
    'repeated_column': (lambda o: _text([_lines(o)[0] + ',periodo'] + [l + ',20183' for l in _lines(o)[1:]]),
                        lambda o: [f'line 1, column PERIODO: appears twice (fields {o.columns.get_loc("PERIODO") + 1} and {o.shape[1] + 1})']),
}

def _zip(raw_rows):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z: z.writestr('saberpro.csv', raw_rows.head(30).to_csv(index=False))
    return buf.getvalue()


@pytest.mark.parametrize('kind', list(BROKEN))
def test_broken_file_is_rejected_with_a_clear_message(tmp_path, capsys, raw_rows, kind):
    make, fragments = BROKEN[kind]
    made, fragments = make(raw_rows), fragments(raw_rows) if callable(fragments) else fragments
    path = tmp_path/f'{kind}.csv'
    if isinstance(made, pd.DataFrame): write(made, path)
    else: path.write_bytes(made)
    out = tmp_path/'clean.parquet'
    assert main(['ingest', str(path), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {path}'), err
    for fragment in fragments: assert fragment in err, err
    assert 'Traceback' not in err and f'nothing was written to {out}' in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_one_bad_file_among_good_ones_writes_nothing(tmp_path, capsys, raw_rows):
    good, bad = write(raw_rows.head(30), tmp_path/'good.csv'), write(_set(raw_rows, 3, 'MOD_INGLES_PUNT', '999'), tmp_path/'bad.csv')
    (tmp_path/'empty.csv').write_text('')
    out = tmp_path/'clean.parquet'
    assert main(['ingest', str(good), str(bad), str(tmp_path/'empty.csv'), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, line 5, column MOD_INGLES_PUNT: '999' is out of range" in err and 'empty.csv: the file is empty' in err
    assert not out.exists()


def test_several_problems_in_one_message(tmp_path, raw_rows):
    rows = _set(_set(raw_rows, 3, 'MOD_INGLES_PUNT', 'abc', n=100), 20, 'ESTU_GENERO', 'X', n=100)
    rows.loc[40:, 'PERIODO'] = '2O19'
    with pytest.raises(BadInput) as e: ingest_files(write(rows, tmp_path/'several.csv'))
    message = str(e.value)
    assert 'several.csv has 3 problems:' in message
    assert "line 42, column PERIODO: '2O19' is not an exam period" in message and '60 rows in all' in message
    assert "line 22, column ESTU_GENERO: 'X' is not a known category (allowed: 'F', 'M')" in message


def test_lines_are_counted_in_the_file_even_past_blank_lines(tmp_path, raw_rows):
    lines = _lines(_set(raw_rows, 13, 'ESTU_METODO_PRGM', 'PRESENCIALL'))  # row 13: line 15, 17 after two blank lines
    (tmp_path/'gaps.csv').write_bytes(_text(lines[:5] + ['', ''] + lines[5:] + ['', '']))
    with pytest.raises(BadInput, match="gaps.csv, line 17, column ESTU_METODO_PRGM: 'PRESENCIALL'"):
        ingest_files(tmp_path/'gaps.csv')
    lines = _lines(raw_rows)
    (tmp_path/'gaps.csv').write_bytes(_text(lines[:5] + [''] + lines[5:]))
    assert ingest_files(tmp_path/'gaps.csv').report.rows_read == 30


def test_no_such_file(tmp_path, capsys):
    assert main(['ingest', str(tmp_path/'nothing.csv'), '--out', str(tmp_path/'x.parquet')]) == 2
    assert 'nothing.csv: no such file' in capsys.readouterr().err


def test_a_clean_table_given_as_raw_input(tmp_path, capsys):
    pd.DataFrame({'a': [1]}).to_parquet(tmp_path/'clean.parquet')
    assert main(['ingest', str(tmp_path/'clean.parquet'), '--out', str(tmp_path/'x.parquet')]) == 2
    assert 'is a parquet file (a clean table?)' in capsys.readouterr().err


def test_frame_without_rows_or_columns():
    with pytest.raises(BadInput, match='<frame>: no rows'):
        ingest_frame(pd.DataFrame(columns=['PERIODO', 'ESTU_CONSECUTIVO', 'PUNT_GLOBAL']))
    with pytest.raises(BadInput, match='cohort, line 1: missing required column ESTU_CONSECUTIVO'):
        ingest_frame(pd.DataFrame({'PERIODO': ['20183'], 'PUNT_GLOBAL': ['150']}), 'cohort')


def test_minimal_frame_and_numbers_as_numbers():
    raw = pd.DataFrame({'ESTU_CONSECUTIVO': ['EK1', 'EK2'], 'PERIODO': [20183, 20195], 'PUNT_GLOBAL': [150.0, np.nan]})
    t = ingest_frame(raw).table
    assert t.PERIODO.tolist() == [20183, 20195] and t.PUNT_GLOBAL.isna().tolist() == [False, True]
    assert list(t.columns) == ['ESTU_CONSECUTIVO', 'PERIODO', 'PUNT_GLOBAL', *[c for c in DERIVED if c != 'CONTEXT_RATE']]


# --- the municipal context table ----------------------------------------------------------------------------------

def test_context_example_ships_and_reads():
    shipped = Path(__file__).resolve().parents[1]/'nbs'/'data'/'context_example.csv'
    assert_frame_equal(read_context(shipped), example_context())


@pytest.mark.parametrize('text,fragment', [
    ('COD_MCPIO,YEAR\n05001,2018\n', 'line 1: missing column RATE; a context table has COD_MCPIO'),
    ('COD_MCPIO,YEAR,RATE\n05001,2018,-3\n', "line 2, column RATE: '-3' is not a rate (a number >= 0)"),
    ('COD_MCPIO,YEAR,RATE\n05001,2018,3\nMedellin,2018,4\n', "line 3, column COD_MCPIO: 'Medellin' is not a 5-digit DANE"),
    ('COD_MCPIO,YEAR,RATE\n05001,2018,3\n5001,2018,4\n', "line 2, column COD_MCPIO: '05001' repeats a municipality and year (2018)"),
    ('COD_MCPIO,YEAR,RATE\n', 'the context table has no rows'),
    ('COD_MCPIO,YEAR,RATE\n05001,2018,3\n\n05001,2019,3,7\n', 'line 4: 4 fields where the header has 3'),
    ('COD_MCPIO;YEAR;RATE\n05001;2018;3\n\n05088;2019;x\n', "line 4, column RATE: 'x' is not a rate"),
])
def test_bad_context_is_rejected(tmp_path, capsys, raw_rows, text, fragment):
    (tmp_path/'context.csv').write_text(text)
    out = tmp_path/'clean.parquet'
    raw = write(raw_rows.head(30), tmp_path/'raw.csv')
    assert main(['ingest', str(raw), '--context', str(tmp_path/'context.csv'), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert f'{tmp_path/"context.csv"}' in err and fragment in err, err
    assert not out.exists()


def test_context_rate_joins_municipality_and_year(raw_rows):
    context = example_context()
    t = ingest_frame(raw_rows, context=context).table
    rates = context.set_index(['COD_MCPIO', 'YEAR']).RATE
    row = t.dropna(subset=['CONTEXT_RATE']).iloc[100]
    assert row.CONTEXT_RATE == rates[(row.ESTU_COD_RESIDE_MCPIO, row.EXAM_YEAR)]
    assert t.CONTEXT_RATE[~t.ESTU_COD_RESIDE_MCPIO.isin(context.COD_MCPIO).fillna(False)].isna().all()


# --- synthetic cohorts round-trip ---------------------------------------------------------------------------------

@pytest.mark.parametrize('sep,encoding', [(',', 'utf-8'), (';', 'latin-1'), ('|', 'utf-8')])
def test_synthetic_cohort_round_trips(tmp_path, sep, encoding):
    synth = pytest.importorskip('estudiapp_core.synth')
    if not hasattr(synth, 'write_synthetic'): pytest.skip('estudiapp_core.synth is not finished')
    path = tmp_path/'synthetic.csv'
    synth.write_synthetic(path, 3000, seed=7, sep=sep, encoding=encoding)
    ingested, raw = ingest_files(path), synth.synthesize(3000, seed=7)
    published = int((raw.ESTU_ESTADOINVESTIGACION == 'PUBLICAR').sum())  # the cohort has a few annulled results, as real ones
    r = ingested.report
    assert (r.rows_read, r.rows_kept, r.rows_rejected) == (3000, published, 3000 - published)
    assert all(reason.startswith('annulled result') for reason in r.rejected)
    assert r.files[0]['separator'] == sep and r.files[0]['extra_columns'] == [c for c in raw.columns if c not in COLUMNS]
    assert_frame_equal(ingested.table, ingest_frame(raw).table)
    assert ingested.table.PUNT_GLOBAL.notna().all()
