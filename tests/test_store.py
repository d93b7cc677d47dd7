"Artifact store: local and S3 (a real local S3 endpoint) round trips, tamper detection, whole-set publishing."
import json, subprocess, sys, threading
from pathlib import Path
import pytest
from estudiapp_core.config import get_settings
from estudiapp_core.core import BadInput, sha256_bytes
from estudiapp_core.store import (MANIFEST, PUBLISHING, LocalStore, MissingArtifact, S3Store, TamperedArtifact, open_store)

ARTIFACTS = {'preprocess.pkl': b'pipeline', 'linear.pkl': b'linear model', 'xgboost.pkl': b'classifier',
             'datasets/test_v4.csv': b'ESTU_CONSECUTIVO,PERIODO\nEK1,20195\n'}


@pytest.fixture(params=['local', 's3'])
def store(request, tmp_path):
    "An empty store of each backend"
    if request.param == 'local': return open_store(tmp_path/'artifacts')
    bucket = request.getfixturevalue('s3_bucket')
    return open_store(f's3://{bucket}/runs/1')


def tamper(store, key, data):
    "Change a stored file behind the manifest's back"
    store.put_bytes(key, data)


def test_round_trip(store, tmp_path):
    big = tmp_path/'shap_values.npy'
    big.write_bytes(bytes(range(256))*4096)  # 1 MiB, streamed from disk
    manifest = store.publish({**ARTIFACTS, 'shap_values.npy': big})
    assert manifest == {k: sha256_bytes(v) for k, v in {**ARTIFACTS, 'shap_values.npy': big.read_bytes()}.items()}
    assert store.keys() == sorted([*ARTIFACTS, 'shap_values.npy'])
    assert json.loads(store.get_bytes(MANIFEST)) == manifest
    for key, data in ARTIFACTS.items(): assert store.load_verified(key) == data
    assert store.load_verified('shap_values.npy') == big.read_bytes()
    assert store.load_set(['preprocess.pkl', 'xgboost.pkl']) == {k: ARTIFACTS[k] for k in ['preprocess.pkl', 'xgboost.pkl']}
    assert store.exists('linear.pkl') and not store.exists('nothing.pkl')
    assert store.verify() == manifest
    # a second process (a Lambda, the API) opening the same URI sees the same set
    assert open_store(store.uri).load_verified('linear.pkl') == b'linear model'


def test_tampered_file_is_refused(store):
    store.publish(ARTIFACTS)
    tamper(store, 'linear.pkl', b'linear model, edited')
    with pytest.raises(TamperedArtifact) as e: store.load_verified('linear.pkl')
    message = str(e.value)
    assert "'linear.pkl'" in message and sha256_bytes(b'linear model') in message
    assert sha256_bytes(b'linear model, edited') in message and isinstance(e.value, BadInput)
    with pytest.raises(TamperedArtifact): store.verify()
    with pytest.raises(TamperedArtifact): store.load_set(['preprocess.pkl', 'linear.pkl'])
    assert store.load_verified('preprocess.pkl') == b'pipeline'  # the others still load


def test_tampered_manifest_is_refused(store):
    store.publish(ARTIFACTS)
    manifest = json.loads(store.get_bytes(MANIFEST))
    store.put_bytes(MANIFEST, json.dumps({**manifest, 'linear.pkl': '0'*64}).encode())
    with pytest.raises(TamperedArtifact, match='linear.pkl'): open_store(store.uri).load_verified('linear.pkl')
    store.put_bytes(MANIFEST, b'not json')
    with pytest.raises(TamperedArtifact, match='not valid JSON'): open_store(store.uri).load_verified('linear.pkl')


def test_missing_store_and_keys(store):
    with pytest.raises(MissingArtifact, match=r'no artifacts at .*run `estudiapp run` first'): store.load_verified('linear.pkl')
    with pytest.raises(MissingArtifact, match='no artifact'): store.get_bytes('linear.pkl')
    store.publish(ARTIFACTS)
    with pytest.raises(MissingArtifact, match='not in the manifest'): store.load_verified('shap_values.npy')
    store.put_bytes('unlisted.pkl', b'x')  # stored but never published: not trusted
    with pytest.raises(MissingArtifact, match='not in the manifest'): store.load_verified('unlisted.pkl')


def test_publish_replaces_or_merges(store):
    store.publish(ARTIFACTS)
    store.publish({'linear.pkl': b'linear v2'})
    assert list(store.manifest()) == ['linear.pkl']
    with pytest.raises(MissingArtifact): store.load_verified('xgboost.pkl')
    store.publish({'xgboost.pkl': b'classifier v2', 'datasets/test_v3.csv': b'PERIODO\n20183\n'}, merge=True)
    assert sorted(store.manifest(refresh=True)) == ['datasets/test_v3.csv', 'linear.pkl', 'xgboost.pkl']
    assert store.load_verified('linear.pkl') == b'linear v2'


def test_failed_publish_leaves_old_set(store, tmp_path):
    store.publish(ARTIFACTS)
    before = store.manifest(refresh=True)
    with pytest.raises(BadInput, match='is not a file'):
        store.publish({'linear.pkl': b'v3', 'shap_values.npy': tmp_path/'missing.npy'})
    with pytest.raises(BadInput, match='bad artifact key'): store.publish({'../escape.pkl': b'x'})
    assert store.manifest(refresh=True) == before
    store.verify()


def test_local_publish_is_a_swap(tmp_path):
    store = LocalStore(tmp_path/'artifacts')
    store.publish(ARTIFACTS)
    store.publish({'linear.pkl': b'v2'})
    assert sorted(p.name for p in tmp_path.iterdir()) == ['artifacts']  # no temporary folder left behind
    assert sorted(p.name for p in (tmp_path/'artifacts').iterdir()) == ['linear.pkl', MANIFEST]


def test_local_publish_refuses_foreign_folder(tmp_path):
    (tmp_path/'notes.txt').write_text('precious')
    with pytest.raises(BadInput, match='refusing to replace'): LocalStore(tmp_path).publish({'a.pkl': b'x'})
    assert (tmp_path/'notes.txt').read_text() == 'precious'


def test_write_manifest_after_single_puts(store):
    for key, data in ARTIFACTS.items(): store.put_bytes(key, data)
    assert store.write_manifest(['linear.pkl', 'preprocess.pkl']) == {k: sha256_bytes(ARTIFACTS[k]) for k in ['linear.pkl', 'preprocess.pkl']}
    assert open_store(store.uri).load_verified('linear.pkl') == b'linear model'
    with pytest.raises(MissingArtifact): open_store(store.uri).load_verified('xgboost.pkl')


@pytest.mark.parametrize('backend', ['local', 's3'])
def test_readers_never_see_a_mixed_set(backend, tmp_path, request):
    "A reader loading a set while another process publishes new ones gets one whole set every time"
    uri = str(tmp_path/'artifacts') if backend == 'local' else f"s3://{request.getfixturevalue('s3_bucket')}/live"
    writer, reader = open_store(uri), open_store(uri)
    keys = ['preprocess.pkl', 'linear.pkl', 'xgboost.pkl']
    writer.publish({k: f'{k} version 0.'.encode()*100 for k in keys})
    done, seen, errors = threading.Event(), [], []

    def read():
        while not done.is_set():
            try: got = reader.load_set(keys)
            except Exception as e: errors.append(e); continue
            versions = {data.split(b'version ')[1].split(b'.')[0] for data in got.values()}
            seen.append(versions)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for version in range(1, 15): writer.publish({k: f'{k} version {version}.'.encode()*100 for k in keys})
    finally:
        done.set()
        thread.join()
    assert seen, 'the reader never completed a read'
    assert all(len(v) == 1 for v in seen), [v for v in seen if len(v) > 1][:3]
    assert errors == [], errors[:3]


def test_interrupted_s3_publish_is_reported(s3_bucket):
    "A publish that died midway leaves its marker: readers wait `wait` seconds, then say what happened"
    store = open_store(f's3://{s3_bucket}/runs')
    store.publish(ARTIFACTS)
    store.put_bytes(PUBLISHING, b'2024-01-01T00:00:00Z')
    store.put_bytes('linear.pkl', b'half of a new set')
    with pytest.raises(TamperedArtifact, match='has not finished'): store.load_verified('linear.pkl', wait=0.3)
    assert store.load_verified('xgboost.pkl', wait=0.3) == b'classifier'
    assert PUBLISHING not in store.keys()


def test_open_store_from_settings(tmp_path, s3_bucket, s3_endpoint):
    local = open_store(settings=get_settings({'ARTIFACTS_DIR': str(tmp_path), 'ARTIFACTS_PREFIX': 'v2'}))
    assert isinstance(local, LocalStore) and local.root == tmp_path/'v2'
    s3 = open_store(settings=get_settings({'BUCKET_NAME': s3_bucket, 'ARTIFACTS_PREFIX': 'models',
                                           'AWS_ENDPOINT_URL_S3': s3_endpoint}))
    assert isinstance(s3, S3Store) and s3.uri == f's3://{s3_bucket}/models'
    s3.publish(ARTIFACTS)
    assert open_store(f's3://{s3_bucket}/models').load_verified('xgboost.pkl') == b'classifier'
    assert open_store(f'file://{tmp_path}/v2').uri == str(tmp_path/'v2')


def test_s3_errors_are_clear(s3_endpoint):
    with pytest.raises(BadInput, match='does not exist'): open_store('s3://no-such-bucket/x').get_bytes('linear.pkl')
    with pytest.raises(BadInput, match='needs a bucket name'): open_store('s3:///x')
    with pytest.raises(BadInput, match='unknown store'): open_store('gs://bucket/x')


def test_import_is_light():
    "The store runs in AWS Lambda: importing it pulls in neither boto3 nor pandas, scikit-learn, shap or matplotlib"
    code = 'import sys, estudiapp_core.store; print(sorted({"boto3","pandas","sklearn","shap","matplotlib"} & set(sys.modules)))'
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip() == '[]'
