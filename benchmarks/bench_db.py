"""Database benchmark: load, refresh and dashboard queries on a synthetic national cohort (prints figures, asserts nothing).

Goals (issue 4): load 1,000,000 rows in at most 60 s, refresh every view in at most 20 s, each dashboard query p95 at most
20 ms. Runs on a throwaway embedded PostgreSQL. Wall times depend on what else the machine runs, so the server's and
the client's CPU seconds are printed too, and the server's peak memory. BENCH_DB_ROWS changes the cohort size (default
1,000,000).

Servers (issue 11): `--server 18` is the embedded PostgreSQL (the default), `--server 15` an installed one (Debian's
`postgresql` package), `--server 15-small` that one configured like the original's db.t2.micro (pg.SMALL_SERVER: 1 GB,
no parallel workers) and pinned to one CPU; `--small-server` is the oldest installed version, small. Give several to
compare them on the same cohort.
"""
import argparse, os, resource, statistics, sys, threading, time
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import psycopg2

from estudiapp_core import db, queries
import estudiapp_core.load as load_module
from estudiapp_core.load import load_clean, load_predictions, refresh_views
from estudiapp_core.bundle import risk_band
from estudiapp_core.pg import SMALL_SERVER, TemporaryPostgres, installed_postgres
from estudiapp_core.ingest import example_context, ingest_frame
from estudiapp_core.synth import synthesize

ROWS = int(os.environ.get('BENCH_DB_ROWS', 1_000_000))
QUERY_RUNS = 200


def server_cpu(postmaster:psutil.Process)->float:
    "CPU seconds used so far by the server: postmaster, its live processes and those that exited"
    t = postmaster.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in postmaster.children():
        try: c = child.cpu_times(); total += c.user + c.system
        except psutil.NoSuchProcess: pass
    return total


class Timer:
    "Wall, client CPU and server CPU seconds of a block"
    def __init__(self, postmaster): self.postmaster = postmaster
    def __enter__(self):
        self.wall, self.client, self.server = time.perf_counter(), time.process_time(), server_cpu(self.postmaster)
        return self
    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.client = time.process_time() - self.client
        self.server = server_cpu(self.postmaster) - self.server
    def __str__(self): return f'{self.wall:7.1f} s wall  (CPU: client {self.client:5.1f} s, server {self.server:5.1f} s)'


class PeakMemory:
    "Peak memory of the server while a block runs: its processes' private memory, sampled every 0.2 s, plus shared_buffers"
    def __init__(self, postmaster:psutil.Process, shared_mb:float):
        self.postmaster, self.shared_mb, self.peak_mb, self._stop = postmaster, shared_mb, 0.0, threading.Event()
    def sample(self)->float:
        total = 0
        for p in [self.postmaster, *self.postmaster.children()]:
            try: m = p.memory_info(); total += m.rss - m.shared  # shared pages (the buffers) would count once per process
            except psutil.NoSuchProcess: pass
        return total / 2**20 + self.shared_mb
    def _watch(self):
        while not self._stop.wait(0.2): self.peak_mb = max(self.peak_mb, self.sample())
    def __enter__(self):
        self.peak_mb = self.sample()
        self._thread = threading.Thread(target=self._watch, daemon=True); self._thread.start()
        return self
    def __exit__(self, *exc):
        self._stop.set(); self._thread.join()
        self.peak_mb = max(self.peak_mb, self.sample())


def predictions_for(clean:pd.DataFrame)->pd.DataFrame:
    "Predictions in the serving contract's layout for every student (made up: the database does not care how good they are)"
    rng = np.random.default_rng(0)
    probability = rng.uniform(0, 1, len(clean))
    predicted = (clean['PUNT_GLOBAL'].to_numpy() + rng.normal(0, 12, len(clean))).round(1)
    reasons = ['[{"feature": "FAMI_ESTRATOVIVIENDA", "value": "Estrato 1", "direction": "raises", "contribution": 0.31, '
               '"text": "the home is in stratum 1"}, {"feature": "FAMI_TIENEINTERNET", "value": "No", "direction": "raises", '
               '"contribution": 0.12, "text": "no internet at home"}]'] * len(clean)
    return pd.DataFrame({'ESTU_CONSECUTIVO': clean['ESTU_CONSECUTIVO'].to_numpy(), 'PERIODO': clean['PERIODO'].to_numpy(),
                         'predicted_score': predicted, 'score_interval_low': predicted - 25, 'score_interval_high': predicted + 25,
                         'low_score_probability': probability,
                         'risk_band': [risk_band(p) for p in probability],
                         'reasons': reasons})


def p95_ms(run, times:int=QUERY_RUNS)->tuple[float, float]:
    "Median and 95th percentile of `run()` in milliseconds"
    for _ in range(5): run()  # warm up
    samples = []
    for _ in range(times):
        start = time.perf_counter(); run(); samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), float(np.percentile(samples, 95))


def server_spec(spec:str)->tuple[str, dict, Path|None, bool]: # name, server settings, bin folder (None: embedded), pinned to one CPU
    "What `--server 15-small` means"
    version, _, size = spec.partition('-')
    installed = installed_postgres()
    if size not in ('', 'small') or not version.isdigit(): raise SystemExit(f'--server {spec}: expected VERSION or VERSION-small')
    if int(version) != 18 and int(version) not in installed:
        raise SystemExit(f'--server {spec}: PostgreSQL {version} is not installed (have 18, embedded, and {sorted(installed) or "none"})')
    small = size == 'small'
    return spec, SMALL_SERVER if small else {}, installed.get(int(version)) if int(version) != 18 else None, small


def bench_server(spec:str, clean:pd.DataFrame, predictions:pd.DataFrame, card:dict)->dict:
    "Load, refresh and query on one server; print the figures and return the main ones"
    name, settings, bin_dir, pinned = server_spec(spec)
    with TemporaryPostgres(bin_dir=bin_dir, server_settings=settings) as pg:
        postmaster = psutil.Process(pg.pid)
        if pinned:  # one CPU, as a db.t2.micro has; backends forked later inherit the postmaster's affinity
            for p in [postmaster, *postmaster.children()]: p.cpu_affinity([0])
        with closing(psycopg2.connect(pg.url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"); shared_mb = cur.fetchone()[0]
            cur.execute('SHOW server_version'); version = cur.fetchone()[0].split()[0]  # 15.18, without Debian's suffix
        print(f"\n== server {name}: PostgreSQL {version}, shared_buffers {shared_mb} MB"
              + (f", {', '.join(f'{k}={v}' for k, v in settings.items() if k != 'shared_buffers')}" if settings else '')
              + (', pinned to CPU 0' if pinned else ''))
        db.apply_schema(pg.url)
        with PeakMemory(postmaster, shared_mb) as memory:
            with Timer(postmaster) as load: first = load_clean(pg.url, clean, refresh=False)
            print(f"load {first['written']:,} rows:        {load}   goal <= 60 s   ({first['written'] / load.wall:,.0f} rows/s)")
            with Timer(postmaster) as again: second = load_clean(pg.url, clean, refresh=False)
            print(f"load again (0 written: {second['written'] == 0}): {again}")
            with Timer(postmaster) as scored: loaded = load_predictions(pg.url, predictions, card, refresh=False)
            print(f"load {loaded['written']:,} predictions: {scored}")
        load_peak = memory.peak_mb
        with Timer(postmaster) as filled: refresh_views(pg.url)  # loaded without refreshing: every view still empty
        print(f'refresh all views, first (empty: rebuilt plainly): {filled}')
        with PeakMemory(postmaster, shared_mb) as memory:  # the goal: views full, readers never blocked
            with Timer(postmaster) as refresh: timings = refresh_views(pg.url)
        print(f'refresh all views concurrently (full, {load_module.REFRESH_WORKERS} connections): {refresh}   goal <= 20 s')
        for view, seconds in timings.items(): print(f'  {view:<26} {seconds:6.2f} s')
        print(f'server peak memory (private + shared_buffers): load {load_peak:,.0f} MB, refresh {memory.peak_mb:,.0f} MB')

        period = 20195
        calls = {'departments': lambda c: queries.departments(c, period=period),
                 'departments (one)': lambda c: queries.departments(c, period=period, department='Antioquia'),
                 'top_institutions': lambda c: queries.top_institutions(c, period=period),
                 'score_trend (national)': lambda c: queries.score_trend(c),
                 'score_trend (department)': lambda c: queries.score_trend(c, 'VALLE'),
                 'social_factors': lambda c: queries.social_factors(c, period=period),
                 'risk (departments)': lambda c: queries.risk_distribution(c, period=period),
                 'risk (institutions)': lambda c: queries.risk_distribution(c, by='institution', period=period, limit=20),
                 'departments (2018-2019)': lambda c: queries.departments(c, year_from=2018, year_to=2019),
                 'summary (2018-2019)': lambda c: queries.summary(c, year_from=2018, year_to=2019),
                 'summary (by year, dept)': lambda c: queries.summary(c, year_from=2018, department='VALLE', by_year=True),
                 'institution_ranking': lambda c: queries.institution_ranking(c, year_from=2018, year_to=2019, limit=20),
                 'department_factors (one)': lambda c: queries.department_factors(c, year_from=2018, department='Antioquia'),
                 'department_factors (all)': lambda c: queries.department_factors(c, year_from=2018, factor='stratum'),
                 'nationalities': lambda c: queries.nationalities(c, year_from=2018, year_to=2019),
                 'homicide_rates': lambda c: queries.homicide_rates(c, year_from=2018, year_to=2019),
                 # the seed's views by name (sql/910_legacy_views.sql), as its frontend queried them
                 **{f'{view} ({where})': (lambda view, where: lambda c: queries._rows(c, f'SELECT * FROM estudiapp.{view} WHERE {where}', {}))(view, where)
                    for view, where in [('mv_getscorestats_v5', "year = '2019'"), ('mv_getscore_perinst_v4', 'year = 2019'),
                                        ('mv_getstatsxgauges_v2', 'year = 2019'), ('mv_promedio_periodo_departament', 'true'),
                                        ('mv_getsocialfactors_v2', 'year = 2019 AND estu_cod_reside_depto_norm = 70')]}}
        print(f'dashboard queries, {QUERY_RUNS} runs each (goal: p95 <= 20 ms); open connection as the API keeps one, '
              'and a new connection per call:')
        worst = 0.0
        with closing(psycopg2.connect(pg.url)) as conn:
            for label, call in calls.items():
                rows = len(call(conn))
                median, p95 = p95_ms(lambda: call(conn))
                _, p95_new = p95_ms(lambda: call(pg.url), times=50)
                worst = max(worst, p95)
                print(f'  {label:<26} {rows:4} rows  median {median:5.1f} ms  p95 {p95:5.1f} ms   (new connection p95 {p95_new:5.1f} ms)')
        with Timer(postmaster) as rerun:  # a new model run re-scores everyone: only the views that read predictions go stale
            second = load_predictions(pg.url, predictions, {**card, 'model_version': card['model_version'] + '-next'})
        print(f"a new model run's {second['written']:,} predictions, loaded and the views it changed refreshed "
              f"({', '.join(second['refreshed'])}): {rerun}")
    return dict(server=f'{name} (PostgreSQL {version})', load=load.wall, again=again.wall, predictions=scored.wall,
                refresh=refresh.wall, peak_mb=max(load_peak, memory.peak_mb), worst_p95=worst)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--server', action='append', help='18 (embedded, the default), an installed major version, or VERSION-small')
    parser.add_argument('--small-server', action='store_true', help='add the oldest installed version (else 18) configured like a db.t2.micro')
    args = parser.parse_args(argv)
    specs = args.server or ([] if args.small_server else ['18'])
    if args.small_server: specs.append(f"{min(installed_postgres(), default=18)}-small")
    for spec in specs: server_spec(spec)  # a typo fails before the cohort is built
    print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start')
    start = time.perf_counter()
    clean = ingest_frame(synthesize(ROWS, seed=2020), context=example_context()).table
    predictions = predictions_for(clean)
    card = {'model_version': 'bench-1', 'trained_at': '2026-01-01T00:00:00+00:00'}
    print(f'cohort: {len(clean):,} clean rows from synthesize + ingest_frame in {time.perf_counter() - start:.0f} s (not timed below)')
    results = [bench_server(spec, clean, predictions, card) for spec in specs]
    if len(results) > 1:
        print('\nserver                              load    again  predictions  refresh  peak memory  worst p95')
        for r in results:
            print(f"{r['server']:<34} {r['load']:6.1f} s {r['again']:6.1f} s {r['predictions']:8.1f} s {r['refresh']:7.1f} s "
                  f"{r['peak_mb']:8,.0f} MB {r['worst_p95']:7.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'client peak memory {peak:,.0f} MB; load average {os.getloadavg()[0]:.1f} at the end')


if __name__ == '__main__':
    sys.exit(main())
