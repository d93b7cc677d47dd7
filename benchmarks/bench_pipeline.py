"""`estudiapp run` on 963,255 synthetic students (the seed's size), as a user runs it, niced: wall time, peak memory
of the process and seconds per stage (goal: at most 5 minutes and 8 GB on a 2-core machine)."""
import json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROWS = int(os.environ.get('BENCH_PIPELINE_ROWS', 963_255))


def main():
    with tempfile.TemporaryDirectory() as tmp: run(Path(tmp)/'artifacts')


def run(folder:Path):
    command = ['nice', '-n', '10', str(Path(sys.executable).parent/'estudiapp'), 'run', '--rows', str(ROWS),
               '--seed', '0', '--store', str(folder)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, 'ESTUDIAPP_PROGRESS': '0'})
    wall = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    if done.returncode:
        print(done.stderr); sys.exit(done.returncode)
    print(done.stdout)
    card = json.loads((folder/'model_card.json').read_text())
    print(f'estudiapp run, {ROWS:,} rows: {wall/60:.1f} min wall (goal <= 5), peak memory {peak_gb:.2f} GB (goal <= 8)')
    for stage, s in card['seconds'].items(): print(f'  {stage:<12}{s:>8.1f} s')
    size = sum(p.stat().st_size for p in folder.rglob('*') if p.is_file())
    print(f'artifacts: {size/1e6:.0f} MB (deleted after the benchmark)')


if __name__ == '__main__': main()
