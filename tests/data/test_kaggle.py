"""data/kaggle.py: the kagglesdk internals glaucli relies on (a contract that fails loudly)."""

from __future__ import annotations

from glaucli.data import kaggle


def test_kagglesdk_private_session_is_where_glaucli_expects_it():
    """If this fails, a kagglesdk release moved `_init_session`/`_session`: downloads still
    work, without the API timeout; update kaggle.tune_session (and the cap in pyproject)."""
    from kagglesdk import KaggleClient

    client = KaggleClient(username="u", password="p")
    warnings: list = []
    assert kaggle.tune_session(client, (1.0, 2.0), on_event=warnings.append), warnings
    session = client.http_client()._session
    assert session.max_redirects == 0
    assert type(session.get_adapter("https://www.kaggle.com/api")).__name__ == "TimeoutAdapter"
    assert warnings == []


def test_a_moved_session_degrades_to_one_warning():
    class Moved:
        def http_client(self):
            return object()  # no _init_session, no _session

    warnings: list = []
    assert kaggle.tune_session(Moved(), (1.0, 2.0), on_event=warnings.append) is False
    assert len(warnings) == 1 and "kagglesdk" in warnings[0].text and "timeout" in warnings[0].text


def test_dataset_names():
    assert kaggle.resolve_dataset_ref("v2") == (kaggle.DATASETS["v2"], "v2")
    assert kaggle.resolve_dataset_ref("owner/slug") == ("owner/slug", "slug")
