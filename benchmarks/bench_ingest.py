"""Ingest benchmark: `ingest_files` on 1,000,000 rows of the full national layout, against a plain `pyarrow.csv.read_csv`.

Usage: python benchmarks/bench_ingest.py [ROWS] [REPEATS]   (default 1,000,000 rows, 3 runs of each)
Goal: the ingest at most 1.5x the plain read of the same file, under 4 GB peak, on 2 cores.

The file is built from the real Sucre sample (../shared/data, 3,023 rows, 105 columns, with its real defects: double-
encoded text, thousands-separated INSE, textual birth dates, spreadsheet errors), its rows repeated with new
registration numbers, and kept in .bench/. Each run is a fresh child process (imports excluded from its seconds,
included in its peak memory); the two kinds of runs alternate so that the machine's load weighs on both alike.
Prints figures; asserts nothing.
"""
import json, os, statistics, subprocess, sys, time
from pathlib import Path

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ROOT = Path(__file__).resolve().parents[1]
WORK, SUCRE = ROOT/'.bench', ROOT.parent/'shared'/'data'/'saberpro_2019_sucre_full_layout.csv'

PLAIN = r'''
import json, resource, sys, time
import pyarrow.csv as pacsv
started = time.perf_counter()
table = pacsv.read_csv(sys.argv[1], parse_options=pacsv.ParseOptions(delimiter=';'))
print(json.dumps(dict(seconds=time.perf_counter() - started, rows=table.num_rows,
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''
INGEST = r'''
import json, resource, sys, time
from estudiapp_core.ingest import ingest_files
started = time.perf_counter()
ingested = ingest_files(sys.argv[1])
print(json.dumps(dict(seconds=time.perf_counter() - started, rows=ingested.report.rows_kept,
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''


def full_layout_file():
    "ROWS rows of the Sucre sample, repeated with new ESTU_CONSECUTIVO (written once, kept in .bench/)"
    path = WORK/f'saberpro_full_layout_{ROWS}.csv'
    if path.exists() and path.stat().st_mtime > SUCRE.stat().st_mtime: return path
    started = time.perf_counter()
    header, *rows = SUCRE.read_bytes().split(b'\r\n')
    rows = [r.split(b';') for r in rows if r]
    field = header.split(b';').index(b'ESTU_CONSECUTIVO')
    with open(path, 'wb') as f:
        f.write(header + b'\r\n')
        for i in range(ROWS):
            row = rows[i % len(rows)]
            f.write(b';'.join(row[:field] + [b'EK2019%09d' % i] + row[field + 1:]) + b'\r\n')
    print(f'  (wrote {path.name}: {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s)')
    return path


def run(child, path):
    done = subprocess.run([sys.executable, '-c', child, str(path)], capture_output=True, text=True, check=True,
                          env=os.environ | {'ESTUDIAPP_PROGRESS': '0'})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    if not SUCRE.exists(): sys.exit(f'{SUCRE} is absent: the benchmark builds its file from the real sample')
    WORK.mkdir(exist_ok=True)
    path = full_layout_file()
    print(f'{ROWS:,} full-layout rows ({path.stat().st_size / 1e6:,.0f} MB), {REPEATS} runs each; '
          f'load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores')
    plain, ingest = [], []
    for _ in range(REPEATS):
        plain.append(run(PLAIN, path))
        ingest.append(run(INGEST, path))
    for name, runs in [('pyarrow.csv.read_csv', plain), ('ingest_files', ingest)]:
        seconds = [r['seconds'] for r in runs]
        print(f"{name:<22} median {statistics.median(seconds):6.1f} s  (runs: {', '.join(f'{s:.1f}' for s in seconds)});"
              f" peak {max(r['peak_mb'] for r in runs):,.0f} MB; {runs[0]['rows']:,} rows")
    ratio = statistics.median(r['seconds'] for r in ingest) / statistics.median(r['seconds'] for r in plain)
    print(f'ingest / plain read: {ratio:.2f}x (goal: at most 1.5x, peak under 4,096 MB); '
          f'load average after: {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
