"""Fuzz the running API (`make fuzz`): start `estudiapp serve` on a small run's artifacts and a throwaway PostgreSQL
with a synthetic cohort, point schemathesis at its /openapi.json, and count the requests and their statuses from the
server's access log. Passes when schemathesis finds no 5xx and no answer that breaks the documented schema, after
at least --min-requests requests.

    python tools/fuzz_api.py [--store DIR] [--max-examples 50] [--min-requests 500]
"""
import argparse, collections, os, re, socket, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHECKS = 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance'


def artifacts(store:str|None)->Path:
    if store: return Path(store)
    out = ROOT/'.bench'/'fuzz'/'artifacts'
    if not (out/'manifest.json').exists():
        from estudiapp_core.pipeline import run_pipeline
        run_pipeline(rows=6000, seed=7, store=str(out), show_progress=False)
    return out


def load_database(url:str, store:Path):
    "A synthetic cohort and the served model's predictions for it, so the statistics routes have rows"
    import pandas as pd
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.load import load_run
    from estudiapp_core.ingest import ingest_frame
    from estudiapp_core.synth import synthesize
    raw = synthesize(3000, seed=5, periods=(20183, 20195))
    clean = ingest_frame(raw).table
    kept = raw.set_index(['ESTU_CONSECUTIVO', 'PERIODO']).loc[list(zip(clean.ESTU_CONSECUTIVO, clean.PERIODO.astype(str)))]
    bundle = load_bundle(str(store))
    answers = bundle.predict(kept.reset_index().to_dict('records'), top_k=3)
    predictions = pd.DataFrame({'ESTU_CONSECUTIVO': clean.ESTU_CONSECUTIVO.to_numpy(), 'PERIODO': clean.PERIODO.to_numpy(),
                                **{k: [a[k] for a in answers] for k in ('predicted_score', 'low_score_probability', 'risk_band', 'reasons')}})
    load_run(url, clean, predictions, bundle.model_card)


def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--store', help='artifacts to serve (default: a 6,000-student run kept in .bench/fuzz)')
    p.add_argument('--max-examples', type=int, default=50, help='schemathesis test cases per operation and phase')
    p.add_argument('--min-requests', type=int, default=500, help='fewest requests for a passing run')
    p.add_argument('--seed', type=int, default=1)
    args = p.parse_args(argv)
    from estudiapp_core.pg import TemporaryPostgres
    store = artifacts(args.store)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    base = f'http://127.0.0.1:{port}'
    with TemporaryPostgres() as pg:
        load_database(pg.url, store)
        (ROOT/'.bench').mkdir(exist_ok=True)
        log = open(ROOT/'.bench'/'fuzz-server.log', 'w')
        server = subprocess.Popen([str(BIN/'estudiapp'), 'serve', '--port', str(port), '--store', str(store)],
                                  stdout=log, stderr=subprocess.STDOUT, env={**os.environ, 'DATABASE_URL': pg.url})
        try:
            fuzz = subprocess.run([str(BIN/'schemathesis'), 'run', f'{base}/openapi.json', '--wait-for-schema', '120',
                                   '--checks', CHECKS, '--max-examples', str(args.max_examples), '--seed', str(args.seed),
                                   '--generation-database', 'none', '--no-color', '--workers', '2'],
                                  cwd=ROOT/'.bench')  # schemathesis keeps a cache folder where it runs
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    statuses = collections.Counter(re.findall(r'HTTP/1\.1" (\d{3})', (ROOT/'.bench'/'fuzz-server.log').read_text()))
    total = sum(statuses.values())
    print(f"\n{total} requests to estudiapp serve; statuses: {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}")
    server_errors = sum(v for k, v in statuses.items() if k.startswith('5'))
    ok = fuzz.returncode == 0 and server_errors == 0 and total >= args.min_requests
    print('fuzzing: ' + ('clean' if ok else f'FAILED (schemathesis exit {fuzz.returncode}, {server_errors} 5xx, '
                                            f'{total} requests of at least {args.min_requests})'))
    return 0 if ok else 1


if __name__ == '__main__': sys.exit(main())
