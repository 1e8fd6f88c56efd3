import urllib.request

import pytest

from course_lib import downloads


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_LIB_CACHE", str(tmp_path / "cache"))
    assert downloads.cache_dir() == tmp_path / "cache"


def test_online_is_false_without_a_network_call_when_the_hub_is_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("online() called the network although HF_HUB_OFFLINE=1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert downloads.online() is False


def test_online_is_false_when_the_network_refuses(monkeypatch):
    def refused(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", refused)
    assert downloads.online() is False


@pytest.mark.parametrize("name", sorted(downloads.HUB_MODELS))
def test_offline_error_is_one_sentence_naming_the_repository_and_what_to_do(name):
    message = str(downloads.hub_offline_error(name))
    assert downloads.HUB_MODELS[name] in message and "run this cell on Colab" in message and "\n" not in message
