"""Fuzz the running API (`make fuzz`): start `estudiapp serve` on a small run's artifacts and a throwaway PostgreSQL
with a synthetic cohort, point schemathesis at its /openapi.json, and count the requests and their statuses from the
server's access log. Passes when schemathesis finds no 5xx and no answer that breaks the documented schema, after
at least --min-requests requests.

    python tools/fuzz_api.py [--store DIR] [--max-examples 400] [--min-requests 5000]

Every check of schemathesis that applies runs (CHECKS), in every phase (examples, coverage, fuzzing; stateful finds
no links to follow) and both generation modes, with NUL bytes allowed in strings. Left out, with why:
positive_data_acceptance, because a schema-valid request may still name no department ('0000...'), a period digit
6-9 or a score that is not a number, which only the ICFES lists decide; the API answers those 422 naming the
field, and negative_data_rejection checks the other way round. The authorization checks (ignored_auth,
object_level_authorization) and the stateful ones (use_after_free, ensure_resource_availability) have nothing to
act on: the API has no authentication and creates no resources. A batch over the documented maxItems is a 413
(`batch_too_large`, declared in the OpenAPI), so negative_data_rejection also accepts 413 (CONFIG).
"""
import argparse, collections, os, re, socket, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHECKS = ('not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,'
          'response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,'
          'allow_header_conformance')

CONFIG = '''# written by tools/fuzz_api.py
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
'''


def artifacts(store:str|None)->Path:
    if store: return Path(store)
    out = ROOT/'.bench'/'fuzz'/'artifacts'
    if not (out/'manifest.json').exists():
        from estudiapp_core.pipeline import run_pipeline
        run_pipeline(rows=6000, seed=7, store=str(out), show_progress=False)
    return out


def load_database(url:str, store:Path):
    "A synthetic cohort scored by the served model (`load.load_synthetic`), so the statistics routes have rows"
    from estudiapp_core.bundle import load_bundle
    from estudiapp_core.load import load_synthetic
    load_synthetic(url, rows=3000, seed=5, bundle=load_bundle(str(store)))


def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--store', help='artifacts to serve (default: a 6,000-student run kept in .bench/fuzz)')
    p.add_argument('--max-examples', type=int, default=400, help='schemathesis test cases per operation and phase')
    p.add_argument('--min-requests', type=int, default=5000, help='fewest requests for a passing run')
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
            (ROOT/'.bench'/'schemathesis.toml').write_text(CONFIG)
            fuzz = subprocess.run([str(BIN/'schemathesis'), '--config-file', str(ROOT/'.bench'/'schemathesis.toml'), 'run', f'{base}/openapi.json', '--wait-for-schema', '120',
                                   '--checks', CHECKS, '--max-examples', str(args.max_examples), '--seed', str(args.seed),
                                   '--generation-database', 'none', '--generation-allow-x00', 'true', '--mode', 'all',
                                   '--phases', 'examples,coverage,fuzzing,stateful', '--no-color', '--workers', '2'],
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
