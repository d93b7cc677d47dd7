"""Batch scoring throughput: `estudiapp score` on 200,000 raw students (CSV in, CSV out) with stored artifacts.
Prints rows/s overall and seconds per step."""
from estudiapp_core.config import passive_openmp
passive_openmp()  # before scikit-learn, XGBoost or shap loads OpenMP
import tempfile, time
from pathlib import Path

ROWS, TRAIN_ROWS = 200_000, 40_000


def main():
    with tempfile.TemporaryDirectory() as tmp: measure(Path(tmp))


def measure(folder:Path):
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.pipeline import run_pipeline
    from estudiapp_core.scoring import check_students, read_students, score_frame, write_scores
    from estudiapp_core.synth import synthesize
    run_pipeline(rows=TRAIN_ROWS, seed=1, store=folder/'artifacts', show_progress=False)
    synthesize(ROWS, seed=2, periods=(20203, 20205)).drop(columns=['PUNT_GLOBAL', 'PERCENTIL_GLOBAL']).to_csv(
        folder/'students.csv', index=False)
    seconds, start = {}, time.perf_counter()
    def step(name):
        nonlocal start
        now = time.perf_counter(); seconds[name] = now - start; start = now
    bundle = load_bundle(folder/'artifacts', nthread=2); step('load bundle')
    frame = read_students(folder/'students.csv'); step('read CSV')
    check_students(frame, 'students.csv'); step('check values')
    scores = score_frame(frame, bundle, show_progress=False); step('featurize, predict, explain')
    write_scores(scores, folder/'scores.csv'); step('write CSV')
    total = sum(seconds.values())
    print(f'{len(scores):,} students scored in {total:.1f} s: {len(scores)/total:,.0f} rows/s '
          f'({len(scores)/seconds["featurize, predict, explain"]:,.0f} rows/s for the scoring step alone)')
    for name, s in seconds.items(): print(f'  {name:<30}{s:>8.2f} s')


if __name__ == '__main__': main()
