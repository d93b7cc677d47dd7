"""Build the documentation site from the notebooks, offline: `docs/` (mkdocs-material) and README.md.

nbdev renders docs with Quarto, which cannot be installed here. This script keeps nbdev's own notebook processing
(the processors `nbdev_docs` runs: title front matter, hidden cells removed, `show_doc` entries added after exported
definitions and executed, code names linked to their docs) and replaces Quarto's two steps after it:
each processed notebook becomes a Markdown page, and mkdocs-material turns the pages into a static site with a
sidebar and a search that also works from `file://`. Where Quarto is installed, `nbdev_docs` still works unchanged.

It uses nbdev's public surface: `FilterDefaults` (the docs processors), `exec_show_docs`, `add_links`,
`show_doc(renderer=...)`, `NbdevLookup`, `nbglob` and `get_config`, with fastcore's `ShowDocRenderer`, `docments`,
`parse_docstring` and `qual_name`, and execnb's `NbCell`. Beyond them it relies on two things nbdev does not name
publicly, each explained where it is used: the IPython shell of `exec_show_docs` (its attribute `k`), and nbdev's rule
for page names (`01_schema.ipynb` -> `schema.html`), which tests/test_docs.py checks against the doc links nbdev
wrote into the package's `_modidx.py`. Nothing of nbdev or fastcore is patched.

    python tools/build_docs.py           # docs/ from every notebook in nbs/, and README.md from nbs/index.ipynb
    python tools/build_docs.py --readme  # README.md only
"""
from __future__ import annotations
import time
_STARTED = time.perf_counter()  # the build's time includes its imports (a few seconds of it)

import argparse, ast, atexit, base64, functools, importlib, inspect, logging, os, posixpath, re, shutil, sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent/'docs_assets'
BUILD = ROOT/'_proc'/'_mkdocs'  # gitignored; the leading `_` keeps Quarto (`nbdev_docs`) from rendering it
# squidfunk's iframe-worker 1.0.4 (MIT, LICENSE beside it): the npm package's `shim/index.js`, unchanged (its
# sha256 is checked by tests/test_docs.py). To refresh: `npm pack iframe-worker@VERSION`, copy `package/shim/index.js`
# and `package/LICENSE` into tools/docs_assets/iframe-worker/, then update the version here and the sha256 in the test.
IFRAME_WORKER_SHIM = 'assets/iframe-worker/shim.js'
README_WARNING = ('<!-- Generated from nbs/index.ipynb by `python tools/build_docs.py` (or `make docs`): '
                  'edit the notebook, not this file. -->')

from fastcore.docments import ShowDocRenderer, docments, parse_docstring, qual_name
from execnb.nbio import NbCell, read_nb
from nbdev.config import get_config
from nbdev.doclinks import NbdevLookup, nbglob
from nbdev.processors import FilterDefaults, exec_show_docs, add_links
from nbdev.showdoc import show_doc

# ---------------------------------------------------------------------------------------------------------------
# show_doc as an API entry
# ---------------------------------------------------------------------------------------------------------------

_SKIP_PARAMS = ('self', 'cls')

def _code(s:str)->str:
    "Markdown code span for `s`, safe inside a table cell"
    s = str(s).replace('\n', ' ')
    tick = '``' if '`' in s else '`'
    return f'{tick}{s}{tick}' if s else ''

def _table_text(s:str)->str:
    "Escape pipes outside code spans so `s` stays in one Markdown table cell"
    parts = re.split(r'(`[^`]*`)', str(s or '').replace('\n', ' '))
    return ''.join(p if p.startswith('`') else p.replace('|', r'\|') for p in parts)

@functools.lru_cache(maxsize=None)
def _getsource(obj)->str:
    "inspect.getsource, once per object: for a class it parses the whole module"
    return inspect.getsource(obj)

_re_module_prefix = re.compile(r"(?<![\w.'\"])(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])")
def _anno(a)->str:
    "Annotation as a reader writes it: `str|None`, `Path`, `DataFrame` (no quotes, spaces or module prefixes)"
    return _re_module_prefix.sub('', inspect.formatannotation(a).strip("'").replace(' ', ''))

def _documented(sym):
    "What `show_doc` documents: a decorated function's original (unless it has its own signature), a property's getter"
    if not hasattr(sym, '__signature__'): sym = getattr(sym, '__wrapped__', sym)
    return getattr(sym, 'fget', None) or getattr(sym, 'fset', None) or sym

def _fullname(sym)->str:
    "`module.qualname`, or the bare qualname for a definition made in a notebook's shell (`__main__`)"
    module = getattr(sym, '__module__', None)
    return qual_name(sym) if module in (None, '__main__', 'builtins') else f'{module}.{qual_name(sym)}'

def _docstring(sym)->str:
    "The docstring's summary and extended text, without numpydoc sections (which the docments table shows)"
    doc = parse_docstring(sym)
    return '\n\n'.join([doc['Summary'], doc['Extended']]).strip()

def _param(p:inspect.Parameter)->str:
    star = '*' if p.kind == p.VAR_POSITIONAL else '**' if p.kind == p.VAR_KEYWORD else ''
    anno = '' if p.annotation is p.empty else f':{_anno(p.annotation)}'
    default = '' if p.default is p.empty else f'={getattr(p.default, "__name__", None) or repr(p.default)}'
    return f'{star}{p.name}{anno}{default}'

_modidx_cache = {}
def _exported_twin(sym):
    "The package's object for `sym` (a definition executed in a docs shell has no source file for `docments`)"
    lib = get_config().lib_name
    if lib not in _modidx_cache:
        try: _modidx_cache[lib] = importlib.import_module(f'{lib}._modidx').d['syms']
        except Exception: _modidx_cache[lib] = {}
    qn = qual_name(sym)
    for mod, syms in _modidx_cache[lib].items():
        if f'{mod}.{qn}' not in syms: continue
        try:
            obj = importlib.import_module(mod)
            for part in qn.split('.'): obj = getattr(obj, part)
            return obj
        except Exception: return None

class ApiDocRenderer(ShowDocRenderer):
    "`show_doc` entry: heading with nbdev's anchor, source link, signature, docstring and the docments table"
    def __init__(self, sym, name:str|None=None, title_level:int=3, maxline:int=76):
        self.kind = ('property' if isinstance(sym, property) else 'class' if inspect.isclass(sym)
                     else 'async def' if inspect.iscoroutinefunction(sym) else 'def')
        # ShowDocRenderer.__init__, except that a string annotation naming a lazily imported module ('pa.Table')
        # shows as written instead of failing the page
        self.sym, self.title_level, self.maxline = _documented(sym), title_level, maxline
        self.nm = name or qual_name(self.sym)
        self.sig = None
        for eval_str in (True, False):
            try: self.sig = inspect.signature(self.sym, eval_str=eval_str); break
            except (ValueError, TypeError, NameError, AttributeError, SyntaxError): pass
        # a function without a docstring would show `function.__call__`'s ("Call self as a function.")
        self.docs = _docstring(self.sym) if getattr(self.sym, '__doc__', None) else ''
        self.fn = _fullname(self.sym)
        self.documented = self.sym  # the object whose source `docments` can read
        try: _getsource(self.sym)
        except (OSError, TypeError):
            twin = _exported_twin(self.sym)
            if twin is not None: self.documented = twin
        self.anchor = self.nm.lower()  # nbdev's doc links point at `page.html#name` in lower case

    def _params(self):
        if self.sig is None: return []
        ps = list(self.sig.parameters.values())
        if ps and ps[0].name in _SKIP_PARAMS: ps = ps[1:]
        return ps

    def signature(self)->str:
        short = self.nm.rsplit('.', 1)[-1]
        if self.kind == 'property':
            ret = self.sig.return_annotation if self.sig else inspect.Signature.empty
            return f"property {short}" + (f" -> {_anno(ret)}" if ret is not inspect.Signature.empty else '')
        ps = self._params()
        if self.kind == 'class' and (not ps or all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in ps)):
            bases = [b.__name__ for b in getattr(self.sym, '__bases__', ()) if b is not object]
            return f"class {short}" + (f"({', '.join(bases)})" if bases else '')
        args = [_param(p) for p in ps]
        ret = self.sig.return_annotation if self.sig else inspect.Signature.empty
        ret = f"->{_anno(ret)}" if ret not in (inspect.Signature.empty, None) and self.kind != 'class' else ''
        one_line = f"{self.kind} {short}({', '.join(args)}){ret}"
        if len(one_line) <= self.maxline: return one_line
        lines = ['']  # parameters packed into lines that fit the page's code width
        for a in args:
            if lines[-1] and len(lines[-1]) + len(a) + 2 > self.maxline - 4: lines.append('')
            lines[-1] += (' ' if lines[-1] else '') + a + ','
        return f"{self.kind} {short}(\n" + ''.join(f"    {l}\n" for l in lines) + f"){ret}"

    def table(self)->str:
        "Markdown table of the parameters (and return value) when any of them is documented"
        try: dm = docments(self.documented, full=True, returns=True)
        except Exception: return ''
        ps = [p for p in self._params() if self.kind != 'property']
        rows = []
        for p in ps:
            d = dm.get(p.name, {})
            star = '*' if p.kind == p.VAR_POSITIONAL else '**' if p.kind == p.VAR_KEYWORD else ''
            anno = '' if p.annotation is inspect.Parameter.empty else _anno(p.annotation)
            default = '' if p.default is inspect.Parameter.empty else repr(p.default)
            rows.append((_code(star+p.name), _code(anno), _code(default), _table_text(d.get('docment'))))
        ret = dm.get('return', {})
        if ret.get('docment'):
            ra = ret.get('anno')
            rows.append(('**Returns**', _code(_anno(ra)) if ra not in (None, inspect.Parameter.empty) else '', '',
                         _table_text(ret['docment'])))
        if not any(r[3] for r in rows): return ''
        lines = ['| Parameter | Type | Default | Details |', '|---|---|---|---|']
        return '\n'.join(lines + [f'| {" | ".join(r)} |' for r in rows])

    def source_link(self)->str|None:
        "GitHub link to the definition (nbdev's lookup finds the line only from the name without its module)"
        lookup = NbdevLookup()
        for name in (self.nm, self.fn, f"{getattr(self.documented, '__module__', '')}.{self.nm}"):
            if src := lookup.code(name): return src.removesuffix('#LNone')

    def _repr_markdown_(self):
        src = self.source_link()
        parts = [f"{'#'*self.title_level} {self.nm} {{: #{self.anchor} .doc-name }}"]
        if src: parts.append(f'[source]({src}){{: .doc-source title="Source code" }}')
        parts.append(f"```python\n{self.signature()}\n```")
        if self.docs: parts.append(self.docs)
        table = self.table()
        if table: parts.append(f'<div class="doc-params" markdown>\n\n{table}\n\n</div>')
        return '\n\n'.join(parts)

    def __repr__(self): return self.signature() + (f'\n"{self.docs}"' if self.docs else '')

# ---------------------------------------------------------------------------------------------------------------
# nbdev's processing, in this process
# ---------------------------------------------------------------------------------------------------------------

_IMPORTS = (ast.Import, ast.ImportFrom)
_DOC_DIRECTIVES = {'export', 'exports', 'exporti', 'exec_doc'}  # cells nbdev runs whole to document them

def _calls_show_doc(trees)->bool:
    return any(isinstance(t, ast.Expr) and isinstance(t.value, ast.Call)
               and getattr(t.value.func, 'id', None) == 'show_doc' for t in trees)

def imports_only(cell):
    """The imports of a cell that mixes them with other code, as a cell of their own; None for any other cell.
    nbdev runs such a cell whole; in this project those are example/test cells (some need a database or S3),
    and their stored outputs are what the page shows, so only their imports run."""
    if cell.cell_type != 'code' or cell.directives_.keys() & _DOC_DIRECTIVES: return None
    trees = cell.parsed_() or []  # NBProcessor has moved the `#|` lines to `directives_`
    imports = [t for t in trees if isinstance(t, _IMPORTS)]
    if not imports or len(imports) == len(trees) or _calls_show_doc(trees): return None
    code = '\n'.join(ast.get_source_segment(cell.source, t) for t in imports)
    # a new cell (its outputs are the page's, its `directives_` such as `eval: false` still apply), without the parse
    return NbCell(cell.idx_, {k: v for k, v in cell.items() if k != '_parsed_'} | {'source': code, 'outputs': []})

class exec_show_docs_imports(exec_show_docs):
    """nbdev's `exec_show_docs`, with this site's `show_doc` renderer, and running only the imports of a cell that
    mixes them with other code (`imports_only`)."""
    # `self.k` is the IPython shell (execnb's `CaptureShell`) that `exec_show_docs.begin` creates: nbdev has no public
    # name for it, and it is where `show_doc` must be bound to the renderer and where the exit hook is removed
    def begin(self):
        super().begin()
        self.api_doc = functools.partial(show_doc, renderer=ApiDocRenderer)  # show_doc's own `renderer` parameter
        self._bind_show_doc()

    def _bind_show_doc(self):
        "`show_doc` in the shell renders `ApiDocRenderer` entries, also after a cell imported nbdev's own"
        if hasattr(self, 'k') and self.k.user_ns.get('show_doc') is not self.api_doc:
            self.k.user_ns['show_doc'] = self.api_doc

    def __call__(self, cell):
        super().__call__(imports_only(cell) or cell)
        self._bind_show_doc()

    def end(self):
        super().end()
        # each IPython shell registers an exit hook that runs a full gc.collect(): with 20 notebooks' shells alive in
        # one process that took 10-20 s at exit on a busy machine; a shell is done once its notebook is processed
        if hasattr(self, 'k'):
            atexit.unregister(self.k.atexit_operations)
            del self.k

class DocsFilter(FilterDefaults):
    "nbdev's docs processors, with `exec_show_docs_imports`; `links=False` keeps code names unlinked (README)"
    def __init__(self, links:bool=True): self.links = links
    def base_procs(self):
        procs = [exec_show_docs_imports if p is exec_show_docs else p for p in super().base_procs()]
        return procs if self.links else [p for p in procs if p is not add_links]

@contextmanager
def in_project():
    "Run with the project root as working directory: nbdev finds settings.ini from there"
    old = Path.cwd()
    os.chdir(ROOT)
    try: yield
    finally: os.chdir(old)

@contextmanager
def _docs_env(folder:Path):
    "What nbdev's docs workers set up: IN_TEST (so `nbdev_export()` cells are no-ops) and cwd at the notebook"
    old_cwd, old_in_test = Path.cwd(), os.environ.get('IN_TEST')
    os.environ['IN_TEST'] = '1'
    os.chdir(folder)
    try: yield
    finally:
        os.chdir(old_cwd)
        if old_in_test is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = old_in_test

def process_notebook(path:Path, links:bool=True):
    "Read `path` and run nbdev's docs processors on it; returns the processed notebook (`.frontmatter_` holds the title)"
    nb = read_nb(path)
    with _docs_env(path.resolve().parent): DocsFilter(links)(nb)
    return nb

# ---------------------------------------------------------------------------------------------------------------
# Processed notebook -> Markdown page
# ---------------------------------------------------------------------------------------------------------------

_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
_re_option = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_re_list_item = re.compile(r'^(\s*)([-*+]|\d+[.)])\s+\S')
_re_fence = re.compile(r'^\s*(```+|~~~+)')
_re_callout = re.compile(r'^:::+\s*\{\s*\.callout-(\w+)([^}]*)\}\s*$')
_CALLOUTS = {'note': 'note', 'tip': 'tip', 'warning': 'warning', 'important': 'danger', 'caution': 'warning'}
# the richest form of an output that a static page can show
_MIME_ORDER = ('text/markdown', 'text/html', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'text/latex',
               'text/plain')
_IMG_EXT = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/svg+xml': 'svg'}

def _text(x)->str: return ''.join(x) if isinstance(x, list) else (x or '')

def cell_options(source:str)->tuple[dict, str]:
    "Quarto cell options left by nbdev (`#| echo: false`, ...) and the code without them"
    opts, lines = {}, source.splitlines()
    while lines and (m := _re_option.match(lines[0])):
        opts[m.group(1)] = m.group(2).strip('"\'')
        lines.pop(0)
    return opts, '\n'.join(lines).strip('\n')

def _indent(s:str, n:int=4)->str: return '\n'.join((' '*n + l) if l.strip() else '' for l in s.splitlines())

def _fenced(code:str, lang:str='')->str:
    fence = '```'
    while fence in code: fence += '`'
    return f'{fence}{lang}\n{code.rstrip()}\n{fence}'

def python_markdown_friendly(md:str)->str:
    """Notebook (CommonMark) Markdown that Python-Markdown reads the same way: a list or table right after a paragraph
    gets its blank line, nested list items get 4-space indents, Quarto callouts become admonitions."""
    out, fence, stack, callout = [], None, [], False
    for line in md.splitlines():
        m = _re_fence.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence): fence = None
        elif m: fence = m.group(1)
        elif c := _re_callout.match(line.strip()):
            title = re.search(r'title\s*=\s*"([^"]*)"', c.group(2))
            out += ['', f'!!! {_CALLOUTS.get(c.group(1), "note")}' + (f' "{title.group(1)}"' if title else ''), '']
            callout, stack = True, []
            continue
        elif callout and re.match(r'^:::+\s*$', line.strip()):
            out.append('')
            callout = False
            continue
        elif _re_list_item.match(line):
            indent = len(_re_list_item.match(line).group(1))
            if not stack and out and out[-1].strip(): out.append('')
            while stack and stack[-1] > indent: stack.pop()
            if not stack or indent > stack[-1]: stack.append(indent)
            line = ' '*4*(len(stack)-1) + line.lstrip()
        elif line.startswith('|') and out and out[-1].strip() and not out[-1].lstrip().startswith('|'):
            out.append('')
        elif line.strip() and not line.startswith(' '): stack = []
        out.append(_indent(line) if callout and line.strip() else line)
    return '\n'.join(out)

def gfm_table_pipes(md:str)->str:
    "GitHub splits table cells at a `|` even inside a code span; Python-Markdown does not. Escape them for GitHub."
    def row(line):
        if not line.lstrip().startswith('|'): return line
        return re.sub(r'`[^`]*`', lambda m: m.group(0).replace(r'\|', '|').replace('|', r'\|'), line)
    return '\n'.join(row(l) for l in md.splitlines())

class PageWriter:
    "Writes one processed notebook as Markdown for mkdocs-material (`flavour='mkdocs'`) or GitHub (`'gfm'`)"
    def __init__(self, page:str, out_dir:Path, flavour:str='mkdocs', link_map:dict|None=None):
        self.page, self.out_dir, self.flavour, self.link_map = page, out_dir, flavour, link_map or {}
        self.files_dir = Path(page).with_suffix('').name + '_files'
        self.n_files = 0

    # -- helpers
    def _save(self, data:bytes, ext:str)->str:
        self.n_files += 1
        rel = f'{self.files_dir}/output_{self.n_files}.{ext}'
        dest = self.out_dir/Path(self.page).parent/rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return rel

    def _local_links(self, md:str)->str:
        "Doc links nbdev made (absolute, to the published site) and links to notebooks, as links between pages"
        cfg = get_config()
        host = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/')
        here = posixpath.dirname(self.page)
        def rel(target, anchor):
            if self.flavour != 'mkdocs': return None
            return posixpath.relpath(target, here or '.') + anchor
        def repl(m):
            url = m.group(2)
            target, anchor = (url.split('#', 1) + [''])[:2]
            anchor = f'#{anchor}' if anchor else ''
            if host and target.startswith(host + '/'):
                page = target[len(host)+1:]
                new = rel(str(Path(page).with_suffix('.md')), anchor) if page.endswith('.html') else None
                return f'{m.group(1)}({new or url})'
            if not re.match(r'^[a-z]+:', target) and target.endswith('.ipynb'):
                nb = posixpath.normpath(posixpath.join(here, target))
                if nb in self.link_map: return f'{m.group(1)}({rel(self.link_map[nb], anchor) or url})'
            return m.group(0)
        return re.sub(r'(\[[^\]]*\])\(([^)\s]+)\)', repl, md)

    def _attachments(self, cell, md:str)->str:
        for name, data in (cell.get('attachments') or {}).items():
            for mime, b64 in data.items():
                if mime in _IMG_EXT:
                    raw = b64.encode() if mime == 'image/svg+xml' else base64.b64decode(_text(b64))
                    md = md.replace(f'attachment:{name}', self._save(raw, _IMG_EXT[mime]))
                    break
        return md

    def _wrap(self, md:str, cls:str)->str:
        if self.flavour != 'mkdocs': return md
        return f'<div class="{cls}" markdown>\n\n{md}\n\n</div>'

    # -- cells
    def output(self, out, asis:bool=False)->str:
        t = out.get('output_type')
        if t == 'stream':
            text = _re_ansi.sub('', _text(out.get('text'))).rstrip()
            return self._wrap(_fenced(text, 'text'), f'nb-output nb-{out.get("name", "stdout")}') if text else ''
        if t == 'error':
            tb = _re_ansi.sub('', '\n'.join(out.get('traceback') or [f"{out.get('ename')}: {out.get('evalue')}"]))
            return self._wrap(_fenced(tb, 'text'), 'nb-output nb-error')
        data = out.get('data') or {}
        mime = next((m for m in _MIME_ORDER if m in data), None)
        if mime is None: return ''
        value = data[mime]
        if mime == 'text/markdown':
            md = _text(value).strip()
            if asis: return self._local_links(md) if self.flavour == 'mkdocs' else re.sub(r'\{: [^}]*\}', '', md)
            return self._wrap(self._local_links(md), 'nb-output nb-markdown')
        if mime == 'text/html':
            html = _text(value).strip()
            return f'<div class="nb-output nb-html">\n{html}\n</div>' if self.flavour == 'mkdocs' else html
        if mime in _IMG_EXT:
            raw = _text(value).encode() if mime == 'image/svg+xml' else base64.b64decode(_text(value))
            rel = self._save(raw, _IMG_EXT[mime])
            meta = (out.get('metadata') or {}).get(mime) or {}
            size = ' '.join(f'{k}="{meta[k]}"' for k in ('width', 'height') if k in meta)
            img = f'![]({rel})' + (f'{{: {size} }}' if size and self.flavour == 'mkdocs' else '')
            return self._wrap(img, 'nb-output nb-figure')
        text = _re_ansi.sub('', _text(value)).rstrip()
        return self._wrap(_fenced(text, 'text'), 'nb-output nb-result') if text else ''

    def code_cell(self, cell)->str:
        opts, code = cell_options(_text(cell.get('source')))
        if opts.get('include') == 'false': return ''
        parts = []
        if code and opts.get('echo') != 'false':
            block = _fenced(code, cell_language(cell))
            fold = opts.get('code-fold')
            if fold in ('true', 'show'):
                summary = opts.get('code-summary', 'Code')
                if self.flavour == 'mkdocs': block = f'???{"+" if fold == "show" else ""} abstract "{summary}"\n\n{_indent(block)}'
                else: block = f'<details>\n<summary>{summary}</summary>\n\n{block}\n\n</details>'
            parts.append(block)
        if opts.get('output') != 'false':
            parts += [self.output(o, asis=opts.get('output') == 'asis') for o in cell.get('outputs') or []]
        return '\n\n'.join(p for p in parts if p)

    def markdown_cell(self, cell)->str:
        md = self._attachments(cell, _text(cell.get('source')).strip())
        md = self._local_links(md)
        return python_markdown_friendly(md) if self.flavour == 'mkdocs' else gfm_table_pipes(md)

    def __call__(self, nb, title:str, description:str='')->str:
        parts = [f'# {title}']
        if description: parts.append(f'{description}\n{{: .nb-description }}' if self.flavour == 'mkdocs'
                                     else f'> {description}')
        for cell in nb.cells:
            if cell.cell_type == 'raw' and _text(cell.source).lstrip().startswith('---'): continue  # front matter
            if cell.cell_type == 'markdown':
                md = _text(cell.source)
                if 'WARNING: THIS FILE WAS AUTOGENERATED' in md:
                    if self.flavour == 'gfm': parts.append(README_WARNING)
                    continue
                parts.append(self.markdown_cell(cell))
            elif cell.cell_type == 'code': parts.append(self.code_cell(cell))
        return '\n\n'.join(p for p in parts if p and p.strip()).rstrip() + '\n'

def cell_language(cell)->str: return (cell.get('metadata') or {}).get('language') or 'python'

def page_title(nb, path:Path)->tuple[str, str]:
    fm = getattr(nb, 'frontmatter_', {}) or {}
    return str(fm.get('title') or path.stem), str(fm.get('description') or '')

# ---------------------------------------------------------------------------------------------------------------
# README.md
# ---------------------------------------------------------------------------------------------------------------

def readme_text()->str:
    "README.md as generated from the readme notebook (settings.ini `readme_nb`, index.ipynb)"
    with in_project():
        cfg = get_config()
        path = cfg.nbs_path/cfg.get('readme_nb', 'index.ipynb')
        nb = process_notebook(path, links=False)
        return PageWriter('README.md', ROOT, flavour='gfm')(nb, *page_title(nb, path))

def write_readme()->bool:
    "Write README.md when it changed; returns True when it did"
    text, dest = readme_text(), ROOT/'README.md'
    if dest.exists() and dest.read_text(encoding='utf-8') == text: return False
    dest.write_text(text, encoding='utf-8')
    return True

# ---------------------------------------------------------------------------------------------------------------
# The site
# ---------------------------------------------------------------------------------------------------------------

def notebooks()->list[Path]:
    "Every notebook nbdev documents (files and folders starting with `_` or `.` are skipped), index first"
    cfg = get_config()
    paths = sorted(Path(p) for p in nbglob(cfg.nbs_path))
    return sorted(paths, key=lambda p: (p.relative_to(cfg.nbs_path).parent.parts, p.stem != 'index', p.name))

_re_nb_number = re.compile(r'^\d+[a-zA-Z0-9]*_')
def page_name(path:Path)->str:
    """The page `nbdev_docs` would write for `path` (`01_schema.ipynb` -> `schema.md`, like `schema.html`).
    nbdev's doc links point at these pages, and nbdev has this rule only in a private function (`_nbpath2html`):
    tests/test_docs.py checks that it gives the pages of the links in the package's `_modidx.py`."""
    rel = path.relative_to(get_config().nbs_path)
    return rel.with_name(_re_nb_number.sub('', rel.name.lower())).with_suffix('.md').as_posix()

def _copy_nbs_assets(dest:Path):
    "Images and other files notebooks link to (nbs/images/...), copied beside the pages"
    src = get_config().nbs_path
    for p in src.rglob('*'):
        rel = p.relative_to(src)
        if any(part[0] in '._' for part in rel.parts) or not p.is_file(): continue
        if p.suffix.lower() in ('.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp', '.pdf'):
            (dest/rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest/rel)

def _nav(entries:list[tuple[str, str]])->list:
    "mkdocs nav in notebook order; notebooks in sub-folders become sections"
    nav, sections = [], {}
    for title, page in entries:
        folder = posixpath.dirname(page)
        if not folder: nav.append({title: page}); continue
        if folder not in sections:
            sections[folder] = []
            nav.append({re.sub(r'^\d+[a-zA-Z0-9]*_', '', folder).replace('_', ' ').capitalize(): sections[folder]})
        sections[folder].append({title: page})
    return nav

def mkdocs_config(nav:list, pages_dir:Path, site_dir:Path)->dict:
    cfg = get_config()
    return {
        'site_name': cfg.get('title', cfg.lib_name),
        'site_description': cfg.get('description', ''),
        # the published address (GitHub Pages): mkdocs writes 404.html with absolute links from it
        'site_url': (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/') + '/',
        'repo_url': cfg.get('git_url', '') or None,
        'docs_dir': str(pages_dir), 'site_dir': str(site_dir),
        'use_directory_urls': False,  # plain `page.html` files that open from the file system
        'nav': nav,
        'theme': {'name': 'material', 'font': False,  # no Google Fonts: the site must not need the network
                  'features': ['navigation.top', 'navigation.footer', 'navigation.tracking', 'toc.follow',
                               'search.highlight', 'search.suggest', 'content.code.copy'],
                  'palette': [{'scheme': 'default', 'primary': 'indigo', 'accent': 'indigo'}]},
        # the offline plugin inlines the search index and, for file:// pages (where browsers refuse workers), runs the
        # search worker through squidfunk's iframe-worker shim; it would load it from unpkg.com unless a polyfill
        # named iframe-worker is listed, so the site carries its own copy (IFRAME_WORKER_SHIM) and needs no network
        'plugins': [{'search': {'lang': 'en'}}, 'offline'],
        'extra': {'polyfills': [IFRAME_WORKER_SHIM], 'generator': False},
        'extra_css': ['assets/extra.css'],
        'markdown_extensions': [
            'tables', 'attr_list', 'md_in_html', 'admonition', 'def_list', 'footnotes',
            {'toc': {'permalink': True}}, 'pymdownx.details', 'pymdownx.superfences', 'pymdownx.magiclink',
            'pymdownx.tilde', {'pymdownx.highlight': {'use_pygments': True}}, 'pymdownx.inlinehilite'],
        'validation': {'nav': {'omitted_files': 'ignore'}, 'links': {'unrecognized_links': 'ignore'}},
    }

class _Warnings(logging.Handler):
    def __init__(self): super().__init__(logging.WARNING); self.records = []
    def emit(self, record): self.records.append(record)

def build_site(site_dir:Path=ROOT/'docs', strict:bool=False)->int:
    "Render every notebook into `site_dir`; returns the number of notebooks that failed"
    import yaml
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    cfg = get_config()
    if BUILD.exists(): shutil.rmtree(BUILD)
    pages_dir = BUILD/'pages'
    pages_dir.mkdir(parents=True)
    paths = notebooks()
    link_map = {p.relative_to(cfg.nbs_path).as_posix(): page_name(p) for p in paths}
    seen, entries, failed = {}, [], []
    for path in paths:
        rel, page = path.relative_to(cfg.nbs_path).as_posix(), page_name(path)
        if page in seen:
            failed.append((rel, f'renders to {page}, like {seen[page]}: rename one of them'))
            continue
        seen[page] = rel
        t = time.perf_counter()
        try:
            nb = process_notebook(path)
            title, description = page_title(nb, path)
            md = PageWriter(page, pages_dir, 'mkdocs', link_map)(nb, title, description)
        except Exception as e:
            cause = f'\n{type(e.__cause__).__name__}: {e.__cause__}' if e.__cause__ else ''  # the cell's own error
            failed.append((rel, f'{type(e).__name__}: {e}{cause}'))
            continue
        (pages_dir/page).parent.mkdir(parents=True, exist_ok=True)
        (pages_dir/page).write_text(md, encoding='utf-8')
        entries.append(('Home' if page == 'index.md' else title, page))
        print(f'  {rel:<28} -> {page:<22} {time.perf_counter()-t:5.1f} s', flush=True)
    _copy_nbs_assets(pages_dir)
    shutil.copytree(ASSETS, pages_dir/'assets', dirs_exist_ok=True)

    config_file = BUILD/'mkdocs.yml'
    config_file.write_text(yaml.safe_dump(mkdocs_config(_nav(entries), pages_dir, site_dir), sort_keys=False,
                                          allow_unicode=True), encoding='utf-8')
    handler = _Warnings()
    mk_log = logging.getLogger('mkdocs')
    mk_log.addHandler(handler)
    mk_log.setLevel(logging.WARNING)
    os.environ.setdefault('NO_MKDOCS_2_WARNING', '1')
    t = time.perf_counter()
    try:
        build(load_config(str(config_file)))
        print(f'  {"mkdocs build":<28} -> {site_dir.name + "/":<22} {time.perf_counter()-t:5.1f} s', flush=True)
    except Exception as e: failed.append(('(site)', f'mkdocs: {type(e).__name__}: {e}'))
    finally: mk_log.removeHandler(handler)
    for r in handler.records: print(f'  mkdocs {r.levelname.lower()}: {r.getMessage()}', file=sys.stderr)
    if strict and handler.records: failed.append(('(site)', f'{len(handler.records)} mkdocs warnings (--strict)'))
    for rel, why in failed: print(f'docs: FAILED {rel}: {why}', file=sys.stderr)
    return len(failed)

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--readme', action='store_true', help='only write README.md from nbs/index.ipynb')
    ap.add_argument('--strict', action='store_true', help="also fail on mkdocs warnings (broken links, ...)")
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    try: changed = write_readme()
    except Exception as e:
        print(f'docs: FAILED README.md from nbs/{get_config().get("readme_nb", "index.ipynb")}: {type(e).__name__}: {e}',
              file=sys.stderr)
        return 1
    if changed: print('README.md updated from nbs/index.ipynb')
    if args.readme: return 0
    n_failed = build_site(strict=args.strict)
    if n_failed:
        print(f'docs: {n_failed} failure(s); the site in docs/ is incomplete', file=sys.stderr)
        return 1
    print(f'docs: {len(notebooks())} notebooks -> docs/ in {time.perf_counter()-_STARTED:.1f} s (open docs/index.html)')
    return 0

if __name__ == '__main__': sys.exit(main())
