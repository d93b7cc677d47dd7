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
