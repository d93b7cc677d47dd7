"""Database benchmark: load, refresh and dashboard queries on a synthetic national cohort (prints figures, asserts nothing).

Goals (issue 4): load 1,000,000 rows in at most 60 s, refresh every view in at most 20 s, each dashboard query p95 at most
20 ms. Runs on a throwaway embedded PostgreSQL. Wall times depend on what else the machine runs, so the server's and
the client's CPU seconds are printed too. BENCH_DB_ROWS changes the cohort size (default 1,000,000).
"""
import os, resource, statistics, sys, time
from contextlib import closing

import numpy as np
import pandas as pd
import psutil
import psycopg2

from estudiapp_core import db, queries
from estudiapp_core.load import load_clean, load_predictions, refresh_views
from estudiapp_core.bundle import risk_band
from estudiapp_core.pg import TemporaryPostgres
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


def main():
    print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start')
    start = time.perf_counter()
    clean = ingest_frame(synthesize(ROWS, seed=2020), context=example_context()).table
    predictions = predictions_for(clean)
    card = {'model_version': 'bench-1', 'trained_at': '2026-01-01T00:00:00+00:00'}
    print(f'cohort: {len(clean):,} clean rows from synthesize + ingest_frame in {time.perf_counter() - start:.0f} s (not timed below)')

    with TemporaryPostgres() as pg:
        postmaster = psutil.Process(pg.pid)
        db.apply_schema(pg.url)
        with Timer(postmaster) as load: first = load_clean(pg.url, clean, refresh=False)
        print(f"load {first['written']:,} rows:        {load}   goal <= 60 s   ({first['written'] / load.wall:,.0f} rows/s)")
        with Timer(postmaster) as again: second = load_clean(pg.url, clean, refresh=False)
        print(f"load again (0 written: {second['written'] == 0}): {again}")
        with Timer(postmaster) as scored: loaded = load_predictions(pg.url, predictions, card, refresh=False)
        print(f"load {loaded['written']:,} predictions: {scored}")

        with Timer(postmaster) as refresh: timings = refresh_views(pg.url)
        print(f'refresh all views concurrently: {refresh}   goal <= 20 s')
        for view, seconds in timings.items(): print(f'  {view:<22} {seconds:6.2f} s')

        period = 20195
        calls = {'departments': lambda c: queries.departments(c, period=period),
                 'departments (one)': lambda c: queries.departments(c, period=period, department='Antioquia'),
                 'top_institutions': lambda c: queries.top_institutions(c, period=period),
                 'score_trend (national)': lambda c: queries.score_trend(c),
                 'score_trend (department)': lambda c: queries.score_trend(c, 'VALLE'),
                 'social_factors': lambda c: queries.social_factors(c, period=period),
                 'risk (departments)': lambda c: queries.risk_distribution(c, period=period),
                 'risk (institutions)': lambda c: queries.risk_distribution(c, by='institution', period=period, limit=20)}
        print(f'dashboard queries, {QUERY_RUNS} runs each (goal: p95 <= 20 ms); open connection as the API keeps one, '
              'and a new connection per call:')
        with closing(psycopg2.connect(pg.url)) as conn:
            for name, call in calls.items():
                rows = len(call(conn))
                median, p95 = p95_ms(lambda: call(conn))
                _, p95_new = p95_ms(lambda: call(pg.url), times=50)
                print(f'  {name:<26} {rows:4} rows  median {median:5.1f} ms  p95 {p95:5.1f} ms   (new connection p95 {p95_new:5.1f} ms)')

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'client peak memory {peak:,.0f} MB; load average {os.getloadavg()[0]:.1f} at the end')


if __name__ == '__main__':
    sys.exit(main())
