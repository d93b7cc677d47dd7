"The served dashboard in a real headless browser: `estudiapp dashboard` on a loaded database, read through Chromium."
import json, os, re, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest

CHROMIUM, CHROMEDRIVER = shutil.which('chromium'), shutil.which('chromedriver')
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
    reason='the dashboard browser test needs Chromium and its driver: apt-get install -y chromium chromium-driver')

# Every element of the page, through Panel's shadow roots (querySelector alone does not enter them)
DEEP_FIND = """
const [selector, text] = arguments;
const found = [];
const walk = root => {
  for (const e of root.querySelectorAll(selector)) if (!text || e.textContent.includes(text)) found.push(e);
  for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot);
};
walk(document);
return found;
"""
# The <select> whose label names a field: Bokeh draws a Select as a <label> and a <select> in one shadow root
SELECT_OF = """
const field = arguments[0];
let found = null;
const walk = root => {
  for (const label of root.querySelectorAll('label')) if (label.textContent.includes(`(${field})`) && !found) found = root.querySelector('select');
  for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot);
};
walk(document);
return found;
"""


def _free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def dashboard(serving_store, stats_database):
    "URL of `estudiapp dashboard` serving the stats database and the test store, in its own process"
    port = _free_port()
    env = {**os.environ, 'DATABASE_URL': stats_database}
    process = subprocess.Popen([str(Path(sys.executable).parent/'estudiapp'), 'dashboard', '--port', str(port), '--store', str(serving_store)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = process.stdout.readline()  # the command prints its address once it is ready to serve
        assert line.startswith(f'EstudiApp dashboard on http://127.0.0.1:{port}/'), line + process.stdout.read()
        yield f'http://127.0.0.1:{port}/'
    finally:
        process.terminate()
        try: process.wait(timeout=10)
        except subprocess.TimeoutExpired: process.kill()


@pytest.fixture(scope='module')
def browser():
    "Headless Chromium (Debian's) through its chromedriver, logging the console and the network"
    webdriver = pytest.importorskip('selenium.webdriver')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--window-size=1400,1000'):
        options.add_argument(argument)  # --no-sandbox: Chromium refuses to run as root with its sandbox
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _wait_for(driver, selector:str, text:str|None=None, timeout:float=30.0):
    "The first element matching `selector` (containing `text`), once the page shows it"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = driver.execute_script(DEEP_FIND, selector, text)
        if found: return found[0]
        time.sleep(0.2)
    raise AssertionError(f'the page never showed {selector} {text or ""}')


def _database(url:str, query:str, params=())->list[tuple]:
    import psycopg2
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


CARDS_QUERY = """
SELECT count(*), avg(punt_global), max(punt_global), min(punt_global)
FROM estudiapp.published_result
WHERE periodo / 10 BETWEEN %s AND %s
"""
MAP_QUERY = """
SELECT d.code, d.name, count(*), avg(r.punt_global)
FROM estudiapp.published_result r JOIN estudiapp.department d ON d.code = r.estu_cod_reside_depto
GROUP BY d.code, d.name
"""
TITLE = re.compile(r'(.+): mean ([\d.]+), ([\d,]+) students(?:, ([\d.]+) homicides per 100,000)?')


def _number(text:str)->float: return float(text.replace(',', ''))


def _check_cards(driver, database:str, first:int, last:int):
    "The cards the page shows are `/v1/stats/summary`'s answer for the years first-last, and agree with the results"
    from estudiapp_core.dashboard import CARDS
    from estudiapp_core.queries import summary
    years = str(first) if first == last else f'{first}-{last}'
    _wait_for(driver, f'#cards[data-years="{years}"]')
    shown = {key: _wait_for(driver, f'#card-{key} .value').text for key, _, _ in CARDS}
    answer, = summary(database, year_from=first, year_to=last)
    assert shown == {key: form.format(answer[key]) for key, _, form in CARDS}, (shown, answer)
    students, mean, best, worst = _database(database, CARDS_QUERY, (first, last))[0]
    assert (answer['students'], answer['max_score'], answer['min_score']) == (students, best, worst)
    assert abs(answer['mean_score'] - float(mean)) <= 0.0501  # the exact mean, rounded to a tenth
    assert answer['homicide_rate'] > 0


def test_dashboard_in_a_browser(dashboard, browser, stats_database, serving_store):
    "Map and cards carry the database's numbers, a range of years redraws them, Try it answers as /v1/predict"
    from estudiapp_core.dashboard import RANKING
    from estudiapp_core.queries import institution_ranking, summary
    browser.get(dashboard)
    years = [y for (y,) in _database(stats_database, 'SELECT DISTINCT periodo / 10 FROM estudiapp.published_result ORDER BY 1')]
    assert len(years) >= 2, 'the test database needs two exam years'

    # Explore, every year: the cards, and the map's departments with their tooltips
    _check_cards(browser, stats_database, years[0], years[-1])
    for code, name, students, mean in _database(stats_database, MAP_QUERY):
        if code == '99999': continue  # students abroad: in the cards, not on the map
        title = _wait_for(browser, f'g#department-{code} > title').get_attribute('textContent')
        found = TITLE.fullmatch(title)
        answer, = summary(stats_database, year_from=years[0], year_to=years[-1], department=code)
        assert found and found[1] == name and _number(found[3]) == students == answer['students'], title
        assert (found[2], found[4]) == (f"{answer['mean_score']:.1f}", f"{answer['homicide_rate']:.1f}"), (title, answer)
        assert abs(answer['mean_score'] - float(mean)) <= 0.0501, (title, mean)

    # the top institutions, as /v1/stats/institution-ranking ranks them
    table = _wait_for(browser, '#institutions')
    _wait_for(browser, '#institutions tr td')
    shown = [[td.get_attribute('textContent') for td in tr.find_elements('css selector', 'td')]
             for tr in table.find_elements('css selector', 'tr')[1:]]
    ranking = institution_ranking(stats_database, year_from=years[0], year_to=years[-1], **RANKING)
    assert ranking and [row[1:5] for row in shown] == [
        [r['institution'], r['department'], f"{r['students']:,}", f"{r['mean_score']:.1f}"] for r in ranking], shown

    # the upper end of the range, one year down with the keyboard: the cards are those of the shorter range
    from selenium.webdriver.common.keys import Keys
    handles = browser.execute_script(DEEP_FIND, '.noUi-handle', None)
    assert len(handles) == 2, 'the year range is a slider with two handles'
    handles[1].send_keys(Keys.ARROW_LEFT)
    _check_cards(browser, stats_database, years[0], years[-2])

    # Try it: the example student living in stratum 5, as a user picks it, against the API's answer
    from selenium.webdriver.support.ui import Select
    from fastapi.testclient import TestClient
    from estudiapp_core.api import create_app
    from estudiapp_core.dashboard import form_fields
    from estudiapp_core.serving import EXAMPLE_STUDENT, Serving
    from estudiapp_core.store import open_store
    _wait_for(browser, '.bk-tab', 'Try it').click()
    Select(browser.execute_script(SELECT_OF, 'FAMI_ESTRATOVIVIENDA')).select_by_visible_text('Estrato 5')
    _wait_for(browser, 'button', 'Predict').click()
    score = _wait_for(browser, '#prediction .score').text
    shown = {key: _wait_for(browser, f'#prediction .{key}').text for key in ('interval', 'probability', 'band')}

    serving = Serving(open_store(serving_store)).load()
    student = {k: EXAMPLE_STUDENT[k] for k in form_fields(serving.bundle) if k in EXAMPLE_STUDENT} | {'FAMI_ESTRATOVIVIENDA': 'Estrato 5'}
    answer = TestClient(create_app(serving)).post('/v1/predict', json=student)
    assert answer.status_code == 200, answer.text
    expected = answer.json()['predictions'][0]
    low, high = expected['score_interval']
    assert (score, shown['interval'], shown['probability'], shown['band']) == (
        f"{expected['predicted_score']:.1f}", f'{low:.1f}-{high:.1f}', f"{expected['low_score_probability']:.3f}", expected['risk_band'])

    # nothing went wrong in the page, and nothing was fetched from anywhere but the dashboard
    errors = [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
    assert not errors, errors
    requests = {json.loads(e['message'])['message']['params']['request']['url'] for e in browser.get_log('performance')
                if json.loads(e['message'])['message']['method'] == 'Network.requestWillBeSent'}
    elsewhere = sorted(u for u in requests if not u.startswith((dashboard, 'data:', 'blob:' + dashboard.rstrip('/'))))
    assert not elsewhere, elsewhere
