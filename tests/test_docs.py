"The offline docs build (tools/build_docs.py) and the notebook checks (tools/check_notebooks.py)."
import json, re, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import build_docs
from execnb.nbio import dict2nb


def low_score_flags(scores:list[float], # Global scores, 0-300
                    cutoff:float|None=None, # Flag scores at or below this; None means the median
                   )->list[bool]: # One flag per score
    "Which students have a low score"
    return []


def test_api_entry_has_anchor_signature_and_docments_table():
    with build_docs.in_project(): md = build_docs.ApiDocRenderer(low_score_flags)._repr_markdown_()
    assert '### low_score_flags {: #low_score_flags .doc-name }' in md  # nbdev's doc links point at this anchor
    assert 'def low_score_flags(scores:list[float], cutoff:float|None=None)->list[bool]' in md
    assert 'Which students have a low score' in md
    assert '| `cutoff` | `float|None` | `None` | Flag scores at or below this; None means the median |' in md
    assert '| **Returns** | `list[bool]` |  | One flag per score |' in md


def _nb(*cells):
    return dict2nb({'cells': [{'metadata': {}, 'outputs': [], **c} for c in cells], 'metadata': {},
                    'nbformat': 4, 'nbformat_minor': 5})


def test_page_follows_cell_options_and_renders_outputs(tmp_path):
    png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
    nb = _nb(
        {'cell_type': 'markdown', 'source': 'Steps:\n- read\n  - validate\n- clean'},
        {'cell_type': 'code', 'source': '#| echo: false\nprint("hidden code, shown output")',
         'outputs': [{'output_type': 'stream', 'name': 'stdout', 'text': ['rows read: 4602\n']}]},
        {'cell_type': 'code', 'source': '#| include: false\nsecret = 1'},
        {'cell_type': 'code', 'source': 'df', 'outputs': [{'output_type': 'execute_result', 'metadata': {},
            'data': {'text/html': ['<table class="dataframe"><tr><td>1</td></tr></table>'], 'text/plain': ['   a\n0  1']}}]},
        {'cell_type': 'code', 'source': 'plot()', 'outputs': [{'output_type': 'display_data', 'metadata': {},
            'data': {'image/png': png, 'text/plain': ['<Figure>']}}]},
    )
    md = build_docs.PageWriter('clean.md', tmp_path)(nb, 'Cleaning', 'One line summary')
    assert md.startswith('# Cleaning\n\nOne line summary\n{: .nb-description }')
    assert 'Steps:\n\n- read\n    - validate\n- clean' in md  # Python-Markdown needs the blank line and 4-space nesting
    assert 'print(' not in md and 'rows read: 4602' in md
    assert 'secret' not in md
    assert '<table class="dataframe">' in md and '   a\n0  1' not in md
    assert '![](clean_files/output_1.png)' in md and (tmp_path/'clean_files'/'output_1.png').read_bytes()[:4] == b'\x89PNG'


def _run(script, cwd):
    return subprocess.run([sys.executable, str(cwd/'tools'/script)], cwd=cwd, capture_output=True, text=True)


@pytest.mark.skipif(not (ROOT/'nbs'/'index.ipynb').exists(), reason='needs the project notebooks')
def test_check_notebooks_names_each_stale_file(tmp_path):
    "On a consistent copy of the project: a hand-edited module, an unclean notebook and a stale README, named, nothing else"
    proj = tmp_path/'proj'
    proj.mkdir()
    for name in ('settings.ini', 'setup.py', 'README.md'): shutil.copy2(ROOT/name, proj/name)
    shutil.copytree(ROOT/'tools', proj/'tools', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(ROOT/'estudiapp_core', proj/'estudiapp_core', ignore=shutil.ignore_patterns('__pycache__'))
    (proj/'nbs').mkdir()
    for nb in ['index.ipynb', '00_config.ipynb']: shutil.copy2(ROOT/'nbs'/nb, proj/'nbs'/nb)
    for mod in (proj/'estudiapp_core').glob('*.py'):  # modules of notebooks this copy does not have
        if mod.name not in ('__init__.py', '_modidx.py', 'config.py'): mod.unlink()
    for tool in ('nbdev_clean', 'nbdev_export'):
        subprocess.run([str(Path(sys.executable).parent/tool)], cwd=proj, check=True, capture_output=True)
    subprocess.run([sys.executable, str(proj/'tools'/'build_docs.py'), '--readme'], cwd=proj, check=True)

    with open(proj/'estudiapp_core'/'config.py', 'a') as f: f.write('\n# a hand edit\n')
    nb = json.loads((proj/'nbs'/'00_config.ipynb').read_text())
    next(c for c in nb['cells'] if c['cell_type'] == 'code')['execution_count'] = 7
    (proj/'nbs'/'00_config.ipynb').write_text(json.dumps(nb))
    (proj/'README.md').write_text('# edited by hand\n')
    bad = _run('check_notebooks.py', proj)
    assert bad.returncode == 1
    listed = re.findall(r'^ {6}((?:estudiapp_core|nbs)/\S+)', bad.stderr, flags=re.M)
    assert listed == ['estudiapp_core/config.py', 'nbs/00_config.ipynb'], bad.stderr  # and nothing else
    assert 'README.md is not generated' in bad.stderr


def test_page_names_are_the_pages_nbdev_links_to():
    "build_docs names pages by nbdev's rule, which nbdev keeps private: the doc links it wrote into _modidx.py agree"
    from estudiapp_core._modidx import d
    checked = 0
    with build_docs.in_project():
        for mod, syms in d['syms'].items():
            if not syms: continue
            src = (ROOT/(mod.replace('.', '/') + '.py')).read_text(encoding='utf-8')
            nb = re.search(r'File to edit: \.\./(\S+?\.ipynb)', src).group(1)
            linked = next(iter(syms.values()))[0].split('#')[0]  # e.g. config.html
            assert build_docs.page_name(ROOT/nb) == linked.replace('.html', '.md'), (mod, nb)
            checked += 1
    assert checked >= 15


def test_docs_processing_runs_doc_cells_and_only_the_imports_of_test_cells():
    "Exported definitions get ApiDocRenderer entries, also after a cell imports nbdev's show_doc; test cells keep outputs"
    folder = ROOT/'_proc'/'test_docs'  # inside the project, where nbdev finds settings.ini
    folder.mkdir(parents=True, exist_ok=True)
    stored = [{'output_type': 'stream', 'name': 'stdout', 'text': ['from the database\n']}]
    nb = {'cells': [{'cell_type': 'code', 'source': '#| export\ndef double(x:int, # a number\n          ): return 2*x',
                     'outputs': []},
                    {'cell_type': 'code', 'source': 'import json\nraise RuntimeError("needs a database")', 'outputs': stored},
                    {'cell_type': 'code', 'source': 'from nbdev.showdoc import show_doc\nx = 1', 'outputs': []},
                    {'cell_type': 'code', 'source': 'show_doc(json.dumps, name="dumps")', 'outputs': []}],
          'metadata': {'kernelspec': {'language': 'python', 'name': 'python3', 'display_name': 'Python 3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path = folder/'01a_mixed_cells.ipynb'
    path.write_text(json.dumps({**nb, 'cells': [{'metadata': {}, 'execution_count': None, **c} for c in nb['cells']]}))
    try:
        with build_docs.in_project(): done = build_docs.process_notebook(path)
    finally: shutil.rmtree(folder, ignore_errors=True)
    md = [''.join(o.get('data', {}).get('text/markdown', '')) for c in done.cells for o in c.get('outputs', [])]
    assert any('### double {: #double .doc-name }' in m for m in md), md  # added by nbdev after the exported cell
    assert any('### dumps {: #dumps .doc-name }' in m for m in md), md  # ours after the import; `json` was imported
    raising = next(c for c in done.cells if 'needs a database' in c.source)
    assert raising.outputs[0]['text'] == stored[0]['text']  # not run: the page shows what the notebook stored


IFRAME_WORKER_SHA256 = 'e8e412dbcfea9b7e31b5ffa288d7b6035915e714c542f4176a0cdbe262fc9609'  # npm iframe-worker 1.0.4

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The docs site built from the committed notebooks (once for the tests that read it)"
    site = tmp_path_factory.mktemp('docs')/'site'
    with build_docs.in_project(): assert build_docs.build_site(site) == 0
    return site


def test_site_is_offline_with_squidfunks_worker_shim(site):
    "The built site: every page loads the vendored iframe-worker shim (unchanged), no script or style from elsewhere"
    import hashlib
    shim = build_docs.ASSETS/'iframe-worker'/'shim.js'
    assert hashlib.sha256(shim.read_bytes()).hexdigest() == IFRAME_WORKER_SHA256, 'refresh the sha256 with the version'
    assert 'MIT' in (shim.parent/'LICENSE').read_text() and build_docs.IFRAME_WORKER_SHIM == 'assets/iframe-worker/shim.js'
    pages = sorted(p for p in site.glob('*.html') if p.name != '404.html')  # mkdocs' 404 page is for a server
    assert len(pages) >= 20
    for page in pages:
        html = page.read_text(encoding='utf-8')
        assert '<script src="assets/iframe-worker/shim.js"' in html, page.name
        # nothing is fetched from the network; the canonical link (the published address) only names the page
        assert not re.search(r'<(?:script|link)(?![^>]*rel="canonical")[^>]+(?:src|href)="(?:https?:)?//', html), page.name
    assert (site/'assets'/'iframe-worker'/'shim.js').read_bytes() == shim.read_bytes()
    assert (site/'search'/'search_index.js').read_text(encoding='utf-8').startswith('var __index = ')
    config = (site/'config.html').read_text(encoding='utf-8')
    assert 'id="passive_openmp"' in config and 'id="settings"' in config  # show_doc entries with nbdev's anchors
    assert list(site.glob('*_files/*.png'))  # figures


# the analysis figures of issue 12 (§3): each page shows at least these many, each a PNG beside the page
FIGURES = {'05_explore.ipynb': 10, '20_linear.ipynb': 3, '21_classifier.ipynb': 3, '30_explain.ipynb': 6}  # with INSE's dependence plot

def test_analysis_figures_are_in_the_site(site):
    "Exploration, linear, classifier and explanation pages show their figures (the notebooks' committed outputs)"
    for nb, least in FIGURES.items():
        with build_docs.in_project(): page = build_docs.page_name(ROOT/'nbs'/nb).replace('.md', '.html')
        html = (site/page).read_text(encoding='utf-8')
        images = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
        assert len(images) >= least, (page, len(images))
        for src in images: assert (site/src).read_bytes()[:4] == b'\x89PNG', (page, src)


def _layer_table_modules(index:Path)->set[str]:
    "Modules named in the module column of index.ipynb's 'What is inside' table"
    cells = json.loads(index.read_text())['cells']
    table = next(''.join(c['source']) for c in cells if ''.join(c['source']).startswith('## What is inside'))
    rows = [row.split('|') for row in table.splitlines() if row.startswith('| ') and not row.startswith('| layer ')]
    return {m for row in rows for m in re.findall(r'`(\w+)`', row[3])}


@pytest.mark.skipif(not (ROOT/'nbs'/'index.ipynb').exists(), reason='needs the project notebooks')
def test_layer_table_names_every_module():
    "The README's layer table names the module of every notebook: a new one cannot be left out"
    exported = {m for nb in (ROOT/'nbs').glob('[0-9]*.ipynb')
                for m in re.findall(r'#\| default_exp (\w+)', nb.read_text())}
    assert {'config', 'context', 'cli'} <= exported
    assert sorted(exported - _layer_table_modules(ROOT/'nbs'/'index.ipynb')) == []
