"""Build the Lambda deployment zip, build/lambda-bundle.zip: lambda/handler.py, the serving modules of estudiapp_core
and the pinned runtime of lambda/requirements.txt (Linux x86_64 wheels from PyPI, no pandas, scikit-learn, shap
or SciPy).

    python tools/build_lambda_bundle.py [--out build/lambda-bundle.zip] [--python-version 3.12] [--python PATH]

The function runs on AWS Lambda's python3.12 runtime (Amazon Linux 2023, glibc 2.34), because xgboost-cpu only
ships manylinux_2_28 wheels and python3.11 runs on Amazon Linux 2 (glibc 2.26). The wheels are installed for that
interpreter, and their bytecode is compiled by a local interpreter of the same version in `unchecked-hash` mode:
Lambda's /var/task is read-only, so without valid .pyc files every cold start would compile every module again.
Installed dependencies are cached in build/lambda-deps/<hash of the requirements and this recipe>; the next build
only restages the package and zips.

Prints the unzipped size against AWS's 250 MB limit (goal: 150 MB).
"""
import argparse, glob, hashlib, json, os, shutil, subprocess, sys, time, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT/'lambda'/'requirements.txt'
HANDLER = ROOT/'lambda'/'handler.py'
TARGET_PYTHON = '3.12'  # template.yaml's Runtime: python3.12
PLATFORM = 'x86_64-manylinux_2_28'
LIMIT_MB, GOAL_MB = 250, 150
# The package modules the function imports (the API, the serving logic, the bundle, the store and what they use).
# pg (the connection) and queries are imported by the statistics routes on first use; the schema files (db) and the
# loader (load) are not shipped: queries imports neither.
SERVING_MODULES = ('__init__', 'config', 'core', 'schema', 'store', 'bundle', 'serving', 'api', 'pg', 'queries')
# Not installed although a pinned package declares it: SciPy (xgboost-cpu's dependency, 50 MB with its OpenBLAS) is
# imported by XGBoost at load time only for its sparse-input checks; the function gives XGBoost dense arrays alone, and
# estudiapp_core.bundle._import_xgboost hands it stand-in modules where SciPy is missing (a tenth of the cold start).
NOT_SHIPPED = ('scipy',)
# Never shipped, whatever pulls them in: the serving path must not need them.
FORBIDDEN = ('pandas', 'sklearn', 'scikit_learn', 'shap', 'matplotlib', 'boto3', 'botocore', *NOT_SHIPPED)
# Dropped from the installed wheels to stay under the size goal, none of it imported by the function: test suites,
# C/Cython sources and static libraries. tests/test_lambda.py answers every route from the bundle alone in a clean
# interpreter, so a needed file pruned by mistake fails the tests.
PRUNE_DIRS = ('tests', 'test')
PRUNE_PATHS = ('bin', 'numpy/_core/include', 'numpy/_core/lib', 'numpy/random/lib')
PRUNE_SUFFIXES = ('.pyi', '.pyx', '.pxd', '.pxi', '.c', '.cpp', '.h', '.hpp', '.a')
RECIPE = 7  # bump when the way dependencies are installed or pruned changes (invalidates the cache)


def find_python(version:str)->str|None:
    "Path of a local CPython `version` (e.g. '3.12'), or None"
    def version_of(exe):
        try: out = subprocess.run([exe, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired): return None
        return out.stdout.strip() if out.returncode == 0 else None
    candidates = [sys.executable, getattr(sys, '_base_executable', ''), shutil.which(f'python{version}') or '',
                  *sorted(glob.glob(os.path.expanduser(f'~/.pyenv/versions/{version}.*/bin/python{version}')), reverse=True),
                  f'/usr/local/bin/python{version}', f'/usr/bin/python{version}']
    for exe in filter(None, candidates):
        if Path(exe).exists() and version_of(exe) == version: return exe
    uv = shutil.which('uv') or str(Path(sys.executable).parent/'uv')
    try: found = subprocess.run([uv, 'python', 'find', '--no-project', version], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired): return None
    exe = found.stdout.strip()
    return exe if found.returncode == 0 and exe and version_of(exe) == version else None


def _uv()->list[str]:
    uv = shutil.which('uv') or str(Path(sys.executable).parent/'uv')
    if Path(uv).exists(): return [uv]
    return [sys.executable, '-m', 'uv']


def deps_key(version:str)->str:
    "Cache key of the installed dependencies: requirements, target and recipe"
    h = hashlib.sha256(REQUIREMENTS.read_bytes())
    h.update(json.dumps([version, PLATFORM, NOT_SHIPPED, PRUNE_DIRS, PRUNE_PATHS, PRUNE_SUFFIXES, RECIPE]).encode())
    return h.hexdigest()[:16]


def _prune(root:Path):
    for rel in PRUNE_PATHS: shutil.rmtree(root/rel, ignore_errors=True)
    for name in PRUNE_DIRS:
        for d in sorted(root.rglob(name), reverse=True):
            if d.is_dir(): shutil.rmtree(d, ignore_errors=True)
    for d in sorted(root.rglob('__pycache__'), reverse=True): shutil.rmtree(d, ignore_errors=True)
    for f in [f for f in root.rglob('*') if f.suffix in PRUNE_SUFFIXES and f.is_file()]: f.unlink()
    for name in FORBIDDEN:
        if (root/name).exists(): raise SystemExit(f'error: {name} got into the bundle; check lambda/requirements.txt')


def _compile(python:str, root:Path):
    "Bytecode that the runtime uses without checking sources: the unzipped files' times change, the hashes do not"
    subprocess.run([python, '-m', 'compileall', '-q', '-j', '0', '--invalidation-mode', 'unchecked-hash', str(root)],
                   check=True, stdout=subprocess.DEVNULL)


def install_deps(python:str, version:str, cache:Path)->Path:
    "Folder of the installed, pruned and compiled dependencies, built once per `deps_key`"
    dest = cache/f'py{version}-{deps_key(version)}'
    if (dest/'.complete').exists(): return dest
    tmp = cache/f'.{dest.name}.{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shipped = tmp/'.requirements.txt'  # the pinned requirements but NOT_SHIPPED
    shipped.write_text(''.join(line for line in REQUIREMENTS.read_text().splitlines(keepends=True)
                               if line.split('==')[0].strip().lower() not in NOT_SHIPPED))
    cmd = [*_uv(), 'pip', 'install', '--quiet', '--target', str(tmp), '--python', python, '--python-platform', PLATFORM,
           '--python-version', version, '--only-binary', ':all:', '--no-deps', '-r', str(shipped)]
    env = {**os.environ, 'UV_COMPILE_BYTECODE': '0'}  # compiled below, with the hashes Lambda can trust
    subprocess.run(cmd, check=True, env=env)
    _prune(tmp)
    _compile(python, tmp)
    shipped.unlink()
    (tmp/'.complete').write_text(' '.join(cmd))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    for old in cache.glob(f'py{version}-*'):  # keep one set of dependencies per Python version
        if old != dest: shutil.rmtree(old, ignore_errors=True)
    return dest


def stage(python:str, dest:Path)->Path:
    "Folder with the function's own files: the serving modules of estudiapp_core and the handler, compiled"
    shutil.rmtree(dest, ignore_errors=True)
    package = dest/'estudiapp_core'
    package.mkdir(parents=True)
    for name in SERVING_MODULES: shutil.copy2(ROOT/'estudiapp_core'/f'{name}.py', package/f'{name}.py')
    shutil.copy2(HANDLER, dest/'handler.py')
    _compile(python, dest)
    return dest


def _zip(folders:list[Path], out:Path)->int:
    "Write the files of `folders` as one reproducible zip (sorted names, fixed times); returns the unzipped size"
    files = sorted((p.relative_to(folder).as_posix(), p) for folder in folders for p in folder.rglob('*')
                   if p.is_file() and p.name != '.complete')
    tmp = out.with_suffix('.zip.tmp')
    with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, p in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, p.read_bytes())
    os.replace(tmp, out)
    return sum(p.stat().st_size for _, p in files)


def file_sha256(path)->str:
    "Hex sha256 of a file"
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''): h.update(block)
    return h.hexdigest()


def inputs_key(version:str)->str:
    "Hash of everything the zip is made of: dependencies' key, the package modules, the handler"
    h = hashlib.sha256(deps_key(version).encode())
    for path in [*(ROOT/'estudiapp_core'/f'{n}.py' for n in SERVING_MODULES), HANDLER]: h.update(path.read_bytes())
    return h.hexdigest()


def build(out:Path|str=ROOT/'build'/'lambda-bundle.zip', # The zip to write
          python_version:str=TARGET_PYTHON, # Python of the Lambda runtime
          python:str|None=None, # Local interpreter of that version (found when None)
          cache:Path|str=ROOT/'build'/'lambda-deps', # Where installed dependencies are kept between builds
          force:bool=False)->dict: # Rebuild even when the zip is up to date
    "Build the zip (unless it is up to date); returns its path, sizes and the interpreter that compiled it"
    started = time.perf_counter()
    python = python or find_python(python_version)
    if not python:
        raise SystemExit(f'error: no local Python {python_version} to compile the bundle for the Lambda runtime; install '
                         f'one (e.g. `uv python install {python_version}`) or pass --python-version of an interpreter you have')
    out, cache = Path(out), Path(cache)
    report = out.with_suffix('.json')  # what the last build made, and from which inputs
    key = inputs_key(python_version)
    if not force and out.exists() and report.exists():
        last = json.loads(report.read_text())
        if last.get('inputs') == key and last.get('zip_sha256') == file_sha256(out):
            return {**last, 'python': python, 'seconds': time.perf_counter() - started, 'up_to_date': True}
    out.parent.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    deps = install_deps(python, python_version, cache)
    own = stage(python, out.parent/f'.{out.stem}.staging')
    unzipped = _zip([deps, own], out)
    shutil.rmtree(own, ignore_errors=True)
    info = {'zip': str(out), 'python_version': python_version, 'unzipped_bytes': unzipped,
            'zipped_bytes': out.stat().st_size, 'inputs': key, 'zip_sha256': file_sha256(out)}
    report.write_text(json.dumps(info, indent=1) + '\n')
    return {**info, 'python': python, 'seconds': time.perf_counter() - started, 'up_to_date': False}


def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default=str(ROOT/'build'/'lambda-bundle.zip'), help='zip to write')
    p.add_argument('--python-version', default=TARGET_PYTHON, help="Python of the Lambda runtime (template.yaml's Runtime)")
    p.add_argument('--python', default=None, help='local interpreter of that version (found automatically)')
    p.add_argument('--force', action='store_true', help='rebuild even when the zip is up to date')
    args = p.parse_args(argv)
    r = build(args.out, args.python_version, args.python, force=args.force)
    mb = r['unzipped_bytes'] / 1e6
    print(f"{r['zip']}{' (up to date)' if r['up_to_date'] else ''}: {r['zipped_bytes']/1e6:.1f} MB zipped, {mb:.1f} MB "
          f"unzipped (goal {GOAL_MB} MB, AWS limit {LIMIT_MB} MB); python {r['python_version']}; {r['seconds']:.0f} s")
    if mb > LIMIT_MB:
        print(f'error: over the {LIMIT_MB} MB limit of a zip deployment', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__': sys.exit(main())
