"""The schema, loader, refresh and dashboard queries on the other PostgreSQL versions installed here, and on a server
configured like the original's (PostgreSQL 11.8 on an RDS db.t2.micro: 1 vCPU, 1 GB). The SQL needs PostgreSQL 12 or
newer (generated columns, enum labels added inside a transaction); Debian's `postgresql` package gives 15 beside the
embedded 18."""
from contextlib import closing

import psycopg2
import pytest

from estudiapp_core import db, load, queries
from estudiapp_core.pg import SMALL_SERVER, TemporaryPostgres, installed_postgres

COHORT = dict(rows=3000, seed=11)
INSTALLED = installed_postgres()
MISSING = ("no PostgreSQL beside the embedded one: `apt-get install postgresql` (Debian's package, e.g. 15) "
           "puts one in /usr/lib/postgresql/N/bin")
SERVERS = [pytest.param((version, None), id=f'postgresql-{version}') for version in INSTALLED] or \
          [pytest.param((None, None), id='postgresql-debian', marks=pytest.mark.skip(reason=MISSING))]
SERVERS.append(pytest.param((min(INSTALLED, default=None), SMALL_SERVER), id='small-server'))  # the oldest, else the embedded 18


@pytest.fixture(scope='module', params=SERVERS)
def server(request):
    "A throwaway server of each installed version, and one configured like the original's small one"
    version, settings = request.param
    with TemporaryPostgres(bin_dir=INSTALLED.get(version), server_settings=settings) as pg:
        pg.settings = settings or {}
        yield pg


@pytest.fixture(scope='module')
def reference(pg_server):
    "The same synthetic cohort on the embedded PostgreSQL 18, whose answers the other servers must give"
    url = pg_server.new_database('versions_reference')
    load.load_synthetic(url, **COHORT)
    return url


def test_schema_loader_refresh_and_queries_work_on_this_server(server, reference):
    with closing(psycopg2.connect(server.url)) as conn, conn.cursor() as cur:
        cur.execute('SHOW server_version_num')
        assert int(cur.fetchone()[0]) // 10000 == server.version
        for name, value in server.settings.items():
            cur.execute(f'SHOW {name}'); assert cur.fetchone()[0] == value, name
    files = db.apply_schema(server.url)
    assert db.apply_schema(server.url) == files  # re-runnable on this version too
    load.load_synthetic(server.url, **COHORT)
    timings = load.refresh_views(server.url)
    from test_db import VIEWS  # every materialized view of sql/
    assert set(timings) == set(VIEWS)
    for name in queries.QUERIES:
        answer = queries.run_query(name, server.url)
        assert answer and answer == queries.run_query(name, reference), f'{name}: PostgreSQL {server.version} answers otherwise'


def test_enum_labels_are_added_inside_a_transaction(server):
    # ALTER TYPE ... ADD VALUE in a transaction block is what PostgreSQL 11 refuses
    db.ensure_schema(server.url)
    with closing(psycopg2.connect(server.url)) as conn, conn.cursor() as cur:
        cur.execute('SELECT enum_range(NULL::estudiapp.yes_no)::text[]')
        labels = cur.fetchone()[0]
        cur.execute('SELECT estudiapp.ensure_enum(%s, %s)', ('yes_no', [*labels, 'No sabe']))
        conn.commit()
        cur.execute('SELECT enum_range(NULL::estudiapp.yes_no)::text[]')
        assert cur.fetchone()[0] == [*labels, 'No sabe']
