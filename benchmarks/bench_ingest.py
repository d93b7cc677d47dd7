"""Ingest benchmark: seconds, rows/s and peak memory of `estudiapp ingest` on a synthetic national cohort.

Usage: python benchmarks/bench_ingest.py [ROWS]   (default 1,000,000; goal: under 30 s and 4 GB on 2 cores)

Each layout is ingested in a fresh child process (imports included in its peak memory, not in its seconds):
the datos.gov.co layout (',' UTF-8) and the ICFES national layout (';' Latin-1, which pyarrow transcodes).
Prints figures; asserts nothing.
"""
import json, os, subprocess, sys, time
from pathlib import Path

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
WORK = Path(__file__).resolve().parents[1]/'.bench'
LAYOUTS = {'datos.gov.co (, UTF-8)': (',', 'utf-8'), 'ICFES national (; Latin-1)': (';', 'latin-1')}

CHILD = r'''
import json, resource, sys, time
started = time.perf_counter()
from estudiapp_core.ingest import example_context, ingest_files
imported = time.perf_counter()
ingested = ingest_files(sys.argv[1], context=example_context())
ingested_at = time.perf_counter()
ingested.table.to_parquet(sys.argv[2], index=False)
written = time.perf_counter()
print(json.dumps(dict(import_s=imported - started, ingest_s=ingested_at - imported, parquet_s=written - ingested_at,
                      read=ingested.report.rows_read, kept=ingested.report.rows_kept,
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''


def synthetic_file(sep, encoding):
    "A synthetic raw file of ROWS rows in this layout (written once, kept in .bench/ for the next run)"
    from estudiapp_core import synth
    path = WORK/f"saberpro_{ROWS}_{'comma' if sep == ',' else 'semicolon'}_{encoding}.csv"
    if not path.exists() or path.stat().st_mtime < Path(synth.__file__).stat().st_mtime:  # the generator changed
        started = time.perf_counter()
        synth.write_synthetic(path, ROWS, seed=2020, sep=sep, encoding=encoding)
        print(f'  (wrote {path.name}: {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s)')
    return path


def main():
    WORK.mkdir(exist_ok=True)
    print(f'ingest of {ROWS:,} synthetic rows; load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores')
    for name, (sep, encoding) in LAYOUTS.items():
        raw, out = synthetic_file(sep, encoding), WORK/'bench_clean.parquet'
        done = subprocess.run([sys.executable, '-c', CHILD, str(raw), str(out)], capture_output=True, text=True, check=True)
        f = json.loads(done.stdout.strip().splitlines()[-1])
        total = f['ingest_s'] + f['parquet_s']
        print(f"{name:<28} {f['ingest_s']:6.1f} s ingest ({f['read'] / f['ingest_s']:,.0f} rows/s)"
              f" + {f['parquet_s']:.1f} s parquet = {total:.1f} s; peak {f['peak_mb']:,.0f} MB;"
              f" {f['kept']:,} of {f['read']:,} rows kept; import {f['import_s']:.1f} s")
        out.unlink(missing_ok=True)
    print(f'goal: ingest of 1,000,000 rows under 30 s and 4,096 MB peak; load average after: {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
