"""Single-student predict and explain (top-3 reasons): the serving bundle against the naive path (the scikit-learn
pipeline on a one-row DataFrame, the pickled models, shap.TreeExplainer). Prints p50/p99 in ms and the ratio."""
from estudiapp_core.config import passive_openmp
passive_openmp()  # before scikit-learn, XGBoost or shap loads OpenMP
import csv, io, pickle, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

ROWS, CALLS = 40_000, 500  # students of the run that makes the artifacts; timed calls per path


def percentiles(fn, students):
    "p50 and p99 of fn(student) in milliseconds, after a warm-up"
    for s in students[:20]: fn(s)
    times = []
    for s in students:
        start = time.perf_counter(); fn(s); times.append(time.perf_counter() - start)
    return 1000*np.percentile(times, 50), 1000*np.percentile(times, 99)


def main():
    from estudiapp_core.config import get_settings
    keys = get_settings()
    with tempfile.TemporaryDirectory() as tmp: measure(Path(tmp)/'artifacts', keys)


def measure(folder, keys):
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.ingest import ingest_frame
    from estudiapp_core.pipeline import run_pipeline
    from estudiapp_core.store import open_store
    run = run_pipeline(rows=ROWS, seed=1, store=folder, show_progress=False)
    store = open_store(folder)
    bundle = load_bundle(store)
    data = store.load_verified(keys.TEST_DATASET_V4)
    students = list(csv.DictReader(io.StringIO(data.decode())))[:CALLS]
    raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    clean = ingest_frame(raw).table
    if 'CONTEXT_RATE' in raw:  # stored as the run joined it (pipeline.STORED_DERIVED), not a raw field
        clean['CONTEXT_RATE'] = pd.to_numeric(raw['CONTEXT_RATE']).to_numpy()
    clean = clean.head(CALLS)
    rows = [clean.iloc[[i]] for i in range(len(clean))]
    pre, linear, classifier = (pickle.loads(store.load_verified(k)) for k in (keys.PKL_PRE, keys.PKL_LINEAR, keys.PKL_XGBOOST))
    import shap
    explainer = shap.TreeExplainer(classifier.booster_)
    groups = np.array(bundle.feature_groups)
    names = bundle.group_names

    def naive(row):
        X = pre.transform(row)
        score, probability = linear.predict(X)[0], classifier.predict_proba(X)[0, 1]
        values = explainer.shap_values(X)[0]
        grouped = {g: values[groups == g].sum() for g in names}
        return score, probability, sorted(grouped, key=lambda g: -abs(grouped[g]))[:3]

    bundle_p50, bundle_p99 = percentiles(lambda s: bundle.predict([s], top_k=3), students)
    naive_p50, naive_p99 = percentiles(naive, rows)
    model = run.model_card['classifier']['params']
    print(f"model: XGBoost depth {model['max_depth']}, {run.model_card['classifier']['rounds']} trees, "
          f"{len(bundle.feature_names)} features; {len(students)} single-student calls per path")
    print(f"{'path':<44}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'serving bundle (numpy + XGBoost pred_contribs)':<44}{bundle_p50:>9.3f}{bundle_p99:>9.3f}")
    print(f"{'naive (sklearn 1-row DataFrame + TreeExplainer)':<44}{naive_p50:>9.3f}{naive_p99:>9.3f}")
    print(f"ratio naive/bundle: p50 {naive_p50/bundle_p50:.1f}x, p99 {naive_p99/bundle_p99:.1f}x; goal p50 <= 2 ms: "
          f"{'met' if bundle_p50 <= 2 else 'NOT met'}")


if __name__ == '__main__': main()
