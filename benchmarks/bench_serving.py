"""Serving benchmarks (print figures, assert nothing):

- warm predict and explain for one student through the Lambda handler with a real API Gateway event, p50 and p99,
  beside the naive path (a one-row pandas DataFrame through the scikit-learn pipeline, the models and shap);
- a 1,000-student batch through the handler;
- cold start: a fresh Python importing the handler from the unzipped deployment bundle and loading the artifacts,
  beside the bare imports of the naive path;
- the bundle's size.

Goals (issue 11): warm p50 <= 1 ms in the deployment bundle; cold start median <= 0.8 s; bundle <= 150 MB unzipped
(AWS limit 250 MB).
Artifacts: a run of the main job on 20,000 synthetic students, kept in .bench/serving/ between runs.
"""
import importlib.util, json, os, pickle, statistics, subprocess, sys, time, warnings, zipfile
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT/'.bench'/'serving'
EVENT = ROOT/'lambda'/'events'/'predict_one_v1.json'
WARM_RUNS, NAIVE_RUNS, COLD_RUNS = 3000, 200, 5


class Context: aws_request_id = 'bench'


def artifacts()->Path:
    "The artifacts of a 20,000-student run, made once"
    store = BENCH/'artifacts'
    if not (store/'manifest.json').exists():
        from estudiapp_core.pipeline import run_pipeline
        run_pipeline(rows=20_000, seed=11, store=str(store), show_progress=False)
    return store


def percentiles(seconds:list[float])->tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def load_handler(store:Path):
    os.environ.update({'ARTIFACTS_DIR': str(store), 'BUCKET_NAME': '', 'ARTIFACTS_PREFIX': '', 'DATABASE_URL': ''})
    spec = importlib.util.spec_from_file_location('bench_handler', ROOT/'lambda'/'handler.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warm_handler(handler, event:dict, runs:int)->list[float]:
    for _ in range(100): handler(event, Context())
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = handler(event, Context())
        times.append(time.perf_counter() - start)
    assert answer['statusCode'] == 200, answer
    return times


def naive_path(store:Path, student:dict, runs:int)->tuple[list[float], dict]:
    "The path the bundle replaces: pandas, the fitted scikit-learn pipeline and models, shap.TreeExplainer"
    import pandas as pd, shap
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.config import get_settings
    from estudiapp_core.store import open_store
    s, st = get_settings(), open_store(str(store))
    pre, linear, classifier = (pickle.loads(st.load_verified(k)) for k in (s.PKL_PRE, s.PKL_LINEAR, s.PKL_XGBOOST))
    explainer = shap.TreeExplainer(classifier.booster_)
    # the student's fields as the clean table holds them: derived columns included, missing as NaN, labels as objects
    values = load_bundle(st).featurizer.values(student)
    numeric = ('AGE', 'CONTEXT_RATE')
    groups = np.array(pre_groups(pre))
    def once():
        frame = pd.DataFrame({k: pd.Series([np.nan if v is None else v], dtype=float if k in numeric else object)
                              for k, v in values.items()})
        X = pre.transform(frame)
        score, probability = float(linear.predict(X)[0]), float(classifier.low_score_probability(X)[0])
        contributions = explainer.shap_values(X)[0]
        grouped = pd.Series(contributions).groupby(groups).sum()
        return score, probability, grouped.abs().sort_values(ascending=False).head(3)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for _ in range(10): once()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            score, probability, top = once()
            times.append(time.perf_counter() - start)
    return times, {'predicted_score': score, 'low_score_probability': probability, 'top': list(top.index)}


def pre_groups(pre)->list[str]:
    from estudiapp_core.preprocess import feature_groups
    return feature_groups(pre)


def cold_starts(store:Path)->tuple[list[float], list[float], dict]:
    "Fresh interpreters importing the handler from the unzipped bundle; and fresh ones importing the naive stack"
    spec = importlib.util.spec_from_file_location('build_lambda_bundle', ROOT/'tools'/'build_lambda_bundle.py')
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    if build.find_python(build.TARGET_PYTHON): info = build.build()
    else:  # no local Python of the Lambda runtime: measure the same bundle built for this interpreter
        here = f'{sys.version_info.major}.{sys.version_info.minor}'
        print(f'(no local Python {build.TARGET_PYTHON}: the bundle below is built for Python {here})')
        info = build.build(ROOT/'build'/f'lambda-bundle-py{here}.zip', python_version=here)
    folder = BENCH/'bundle'
    stamp = folder/'.zip-sha256'
    if not stamp.exists() or stamp.read_text() != info['zip_sha256']:
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
        with zipfile.ZipFile(info['zip']) as z: z.extractall(folder)
        stamp.write_text(info['zip_sha256'])
    probe = ('import sys; sys.path.insert(0, sys.argv[1]); import handler; '
             'assert handler.serving._bundle is not None, "artifacts not loaded"')
    env = {'ARTIFACTS_DIR': str(store), 'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'}
    bundle_times, naive_times = [], []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        subprocess.run([info['python'], '-I', '-S', '-c', probe, str(folder)], check=True, env=env, cwd=folder)
        bundle_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, '-c', 'import pandas, sklearn, xgboost, shap'], check=True,
                       stderr=subprocess.DEVNULL)
        naive_times.append(time.perf_counter() - start)
    warm = subprocess.run([info['python'], '-I', '-S', '-c', WARM_PROBE, str(folder), str(EVENT), str(WARM_RUNS)],
                          check=True, env=env, cwd=folder, capture_output=True, text=True)
    return bundle_times, naive_times, info, json.loads(warm.stdout)


WARM_PROBE = '''
import json, sys, time
sys.path.insert(0, sys.argv[1])
import handler
class Context: aws_request_id = 'bench'
event = json.load(open(sys.argv[2]))
for _ in range(100): handler.handler(event, Context())
times = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    handler.handler(event, Context())
    times.append(time.perf_counter() - start)
bundle, student = handler.serving.bundle, json.loads(event['body'])  # the same student without Mangum and FastAPI
alone = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    bundle.predict([student])
    alone.append(time.perf_counter() - start)
print(json.dumps({'handler': times, 'alone': alone}))
'''


def main():
    store = artifacts()
    event = json.loads(EVENT.read_text())
    module = load_handler(store)
    handler = module.handler
    student = {**json.loads(event['body']), 'ESTU_DEPTO_RESIDE': 'BOGOTÁ'}
    print(f'model {module.serving.bundle.model_version}, artifacts of a 20,000-student run at {store}')

    warm = percentiles(warm_handler(handler, event, WARM_RUNS))
    naive, naive_answer = naive_path(store, student, NAIVE_RUNS)
    naive = percentiles(naive)
    bundle_times, naive_imports, info, bundle_warm = cold_starts(store)
    bundle_alone, bundle_warm = percentiles(bundle_warm['alone']), percentiles(bundle_warm['handler'])
    answer = module.serving.bundle.predict([student])[0]
    print(f'\nwarm predict + explain (top 3 reasons), one student, REST API v1 event through lambda/handler.py '
          f'({WARM_RUNS} calls); goal p50 <= 1 ms in the deployment bundle:')
    for name, (p50, p99) in [(f"deployment bundle, python {info['python_version']}", bundle_warm),
                             ('  its ServingBundle.predict alone', bundle_alone),
                             ('development venv, python 3.11', warm),
                             (f'naive path ({NAIVE_RUNS} calls)', naive)]:
        print(f'  {name:<34} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms')
    print(f'  naive / bundle                     p50 {naive[0] / bundle_warm[0]:7.1f} x    p99 {naive[1] / bundle_warm[1]:7.1f} x')
    print('  (naive path: a one-row pandas DataFrame through the scikit-learn pipeline and models, shap.TreeExplainer)')
    print(f"  same answer: P(low) {answer['low_score_probability']:.6f} vs {naive_answer['low_score_probability']:.6f}, "
          f"score {answer['predicted_score']:.3f} vs {naive_answer['predicted_score']:.3f}, "
          f"reasons {[r['feature'] for r in answer['reasons']]} vs {naive_answer['top']}")

    batch = {**event, 'body': json.dumps([student] * 1000)}
    times = warm_handler(handler, batch, 20)
    print(f'\n1,000-student batch through the handler (development venv): median {statistics.median(times) * 1000:.0f} ms '
          f'({1000 / statistics.median(times):,.0f} students/s)')

    print(f"\ncold start: a fresh python {info['python_version']} -I -S imports the handler from the unzipped bundle and "
          f'loads the artifacts ({COLD_RUNS} runs); goal median <= 0.8 s:')
    print(f'  bundle            median {statistics.median(bundle_times):5.2f} s   min {min(bundle_times):5.2f} s')
    print(f'  naive imports     median {statistics.median(naive_imports):5.2f} s   min {min(naive_imports):5.2f} s   '
          '(python -c "import pandas, sklearn, xgboost, shap", no artifacts)')
    print(f"\nbundle: {info['unzipped_bytes'] / 1e6:.1f} MB unzipped (goal 150 MB, AWS limit 250 MB), "
          f"{info['zipped_bytes'] / 1e6:.1f} MB zipped")
    print(f'\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; a busy machine makes every figure slower)')


if __name__ == '__main__': main()
