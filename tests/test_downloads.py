import hashlib
import urllib.error
import urllib.request

import pytest

from course_lib import downloads


@pytest.fixture
def resource(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_LIB_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "weights.bin"
    source.write_bytes(b"some weights")
    res = downloads.Resource(source.as_uri(), hashlib.sha256(b"some weights").hexdigest(), "weights.bin")
    monkeypatch.setitem(downloads.REGISTRY, "test-weights", res)
    return res


def test_fetch_downloads_once_then_uses_the_cache_without_network(resource, monkeypatch):
    path = downloads.fetch("test-weights")
    assert path.read_bytes() == b"some weights"

    def no_network(*args, **kwargs):
        raise AssertionError("the network was called for a cached file")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert downloads.fetch("test-weights") == path


def test_checksum_mismatch_leaves_nothing_behind(resource, monkeypatch):
    monkeypatch.setitem(downloads.REGISTRY, "test-weights",
                        downloads.Resource(resource.url, "0" * 64, resource.filename))
    with pytest.raises(downloads.ChecksumError, match="expected 0000"):
        downloads.fetch("test-weights")
    assert list(downloads.cached_path("test-weights").parent.iterdir()) == []


def test_offline_is_one_clear_sentence(resource, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(downloads.OfflineError, match="there is no internet here .* run this cell on Colab"):
        downloads.fetch("test-weights")


def test_unknown_name_lists_the_registry():
    with pytest.raises(KeyError, match="nothing named 'nope' is registered"):
        downloads.fetch("nope")
