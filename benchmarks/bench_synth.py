"""Synthetic-cohort benchmark: seconds, rows/s and peak memory of `write_synthetic` (generate + write a raw file).

Usage: python benchmarks/bench_synth.py [ROWS] [REPEATS]   (default 1,000,000 rows, 3 repetitions of the datos layout,
one of each full layout; goal: well under a minute)

Each repetition runs in a fresh child process, so its peak memory (ru_maxrss, imports included) is its own; the
seconds exclude the imports. Prints the median and each run; asserts nothing.
"""
import json, os, statistics, subprocess, sys, tempfile
from pathlib import Path

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3

CHILD = r'''
import json, resource, sys, time
started = time.perf_counter()
from estudiapp_core import synth
imported = time.perf_counter()
cohort = synth._cohort(int(sys.argv[1]), seed=int(sys.argv[3]))           # the generation alone, for the breakdown
generated = time.perf_counter()
del cohort
path = synth.write_synthetic(sys.argv[2], int(sys.argv[1]), seed=int(sys.argv[3]), sep=sys.argv[4], encoding=sys.argv[5],
                             layout=sys.argv[6])
written = time.perf_counter()
print(json.dumps(dict(import_s=imported - started, generate_s=generated - imported, write_s=written - generated,
                      mb=path.stat().st_size / 1e6, peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''


def run(rows, seed, sep, encoding, layout, folder):
    "One child process: generate alone, then generate + write; returns its figures"
    out = Path(folder)/'synthetic.csv'
    done = subprocess.run([sys.executable, '-c', CHILD, str(rows), str(out), str(seed), sep, encoding, layout],
                          capture_output=True, text=True, check=True, env={**os.environ, 'ESTUDIAPP_PROGRESS': '0'})
    out.unlink(missing_ok=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    print(f'synth of {ROWS:,} rows, {REPEATS} runs; load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores')
    with tempfile.TemporaryDirectory() as folder:
        for name, (layout, sep, encoding) in {'datos.gov.co (57 columns, UTF-8)': ('datos', ',', 'utf-8'),
                                               'ICFES full (109 columns, ,)': ('full', ',', 'utf-8'),
                                               'ICFES full (109 columns, ; Latin-1)': ('full', ';', 'latin-1')}.items():
            runs = [run(ROWS, 2020 + i, sep, encoding, layout, folder) for i in range(REPEATS if layout == 'datos' else 1)]
            for r in runs:
                print(f"  run: generate {r['generate_s']:.1f} s; generate + write {r['write_s']:.1f} s; "
                      f"peak {r['peak_mb']:,.0f} MB; {r['mb']:,.0f} MB file; import {r['import_s']:.1f} s")
            total = statistics.median(r['write_s'] for r in runs)
            print(f"{name:<36} median {total:.1f} s generate + write = {ROWS/total:,.0f} rows/s; "
                  f"generate alone {statistics.median(r['generate_s'] for r in runs):.1f} s; "
                  f"peak {max(r['peak_mb'] for r in runs):,.0f} MB")
    print(f'goal: 1,000,000 rows generated and written well under 60 s; load average after: {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
