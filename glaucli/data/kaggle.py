"""The Kaggle API client: credentials, the dataset's current version, the signed storage URL.

Kaggle's own `kagglesdk` makes the API calls (GetDataset for the version, DownloadDataset
for a signed storage URL); this is the only module that imports it. The archive itself is
streamed by data/transfer.py, because neither Kaggle client sets timeouts, retries inside
a call, resumes, or reports progress. `kagglehub` is not used: its credential lookup skips
~/.config/kaggle/kaggle.json and it silently goes anonymous.
"""

from __future__ import annotations

from typing import Callable

from glaucli.data import credentials as creds_mod
from glaucli.data import neterrors, transfer
from glaucli.errors import InputError, UsageError, WorkError

DATASETS = {
    "v2": "deathtrooper/glaucoma-dataset-eyepacs-airogs-light-v2",
    "v1": "deathtrooper/eyepacs-airogs-light",
}
MAX_ATTEMPTS = transfer.ATTEMPTS  # per API call, and per download (data/download.py)


def resolve_dataset_ref(dataset: str) -> tuple[str, str]:
    """`v1`/`v2`/`owner/slug` -> (owner/slug, default folder name)."""
    if dataset in DATASETS:
        return DATASETS[dataset], dataset
    parts = dataset.strip("/").split("/")
    if len(parts) != 2 or not all(p.strip(".") for p in parts):
        raise UsageError(f"unknown dataset {dataset!r}", hint="use v1, v2 or owner/slug")
    return dataset, parts[1]


def tune_session(client, timeout: tuple[float, float], warn: Callable[[str], None] | None = None) -> bool:
    """The one place that touches kagglesdk's private HTTP session (`_init_session`,
    `_session`): a timeout on every request (kagglesdk sets none; a stalled API server must
    not hang us) and no redirects (DownloadDataset answers 302 to the signed storage URL;
    following it would open, and waste, a transfer). If a kagglesdk release moves these, the
    download still works, without the timeout: a warning says so and False is returned.
    tests/data/test_kaggle.py fails loudly when they move."""
    import requests.adapters

    class TimeoutAdapter(requests.adapters.HTTPAdapter):
        def send(self, request, **kw):
            kw["timeout"] = kw.get("timeout") or timeout
            return super().send(request, **kw)

    try:
        http = client.http_client()
        http._init_session()  # created lazily otherwise
        session = http._session
        for scheme in ("http://", "https://"):
            session.mount(scheme, TimeoutAdapter())
        session.max_redirects = 0
    except (AttributeError, TypeError) as exc:
        if warn:
            warn(f"this kagglesdk version is not the one glaucli knows ({type(exc).__name__}: {exc}); "
                 "Kaggle API calls run without glaucli's timeout")
        return False
    return True


class _Api:
    def __init__(self, found: creds_mod.Credentials | None, warn: Callable[[str], None] | None = None):
        from kagglesdk import KaggleClient

        self.found, self.warn = found, warn
        kwargs = {}
        if found and found.token:
            kwargs["api_token"] = found.token
        elif found:
            kwargs.update(username=found.username, password=found.key)
        self.client = KaggleClient(**kwargs)

        tune_session(self.client, transfer.timeouts(), warn)

    def _call(self, what: str, fn, ref: str):
        import requests

        for attempt in range(MAX_ATTEMPTS):
            try:
                return fn()
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                redirected = exc.response is not None and bool(exc.response.history)
                if status in (401, 403) and not redirected:
                    if self.found:
                        raise InputError(
                            f"Kaggle refused the credentials from {self.found.source} ({status})",
                            hint="check the key/token, or accept the dataset's terms on kaggle.com") from None
                    raise InputError(f"Kaggle refused an anonymous request ({status}); no credentials found",
                                     hint="looked in: " + ", ".join(creds_mod.places_checked())) from None
                if status == 404 and not redirected:
                    raise InputError(f"unknown dataset {ref} (Kaggle answered 404)",
                                     hint="check the owner/slug; v1 and v2 are built in") from None
                if status is not None and status < 500 and not redirected:
                    raise WorkError(f"Kaggle {what} failed ({status})") from None
                error = f"HTTP {status}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = neterrors.describe(exc)
                if not failure.worth_retrying(attempt):
                    raise WorkError(f"Kaggle {what} failed: cannot reach {failure}",
                                    hint=self.offline_hint(ref)) from None
                error = str(failure)
            transfer.retrying(self.warn, f"Kaggle {what}", error, attempt, MAX_ATTEMPTS)
        raise WorkError(f"Kaggle {what} failed after {MAX_ATTEMPTS} attempts: {error}",
                        hint=self.offline_hint(ref))

    def offline_hint(self, ref: str, kept: int = 0) -> str:
        """What to do when Kaggle cannot be reached: resume only if something was kept,
        name missing credentials, and offer the offline route."""
        first = (f"re-run the same command to resume ({kept} bytes kept)" if kept
                 else "check the network or proxy settings")
        creds = "" if self.found else "; no Kaggle credentials were found either (see `glaucli download --help`)"
        return (f"{first}{creds}; offline: get the zip from https://www.kaggle.com/datasets/{ref} "
                "on another machine and run `glaucli download --from-zip FILE.zip`")

    def version(self, ref: str) -> int:
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest

        owner, slug = ref.split("/")
        request = ApiGetDatasetRequest()
        request.owner_slug, request.dataset_slug = owner, slug
        client = self.client.datasets.dataset_api_client
        dataset = self._call("dataset lookup", lambda: client.get_dataset(request), ref)
        return int(dataset.current_version_number or 0)

    def signed_url(self, ref: str, version: int) -> str:
        from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

        owner, slug = ref.split("/")
        request = ApiDownloadDatasetRequest()
        request.owner_slug, request.dataset_slug = owner, slug
        if version:
            request.dataset_version_number = version

        def call():
            import requests

            try:
                response = self.client.datasets.dataset_api_client.download_dataset(request)
            except requests.TooManyRedirects as exc:  # the 302, not followed (see __init__)
                return exc.response.headers["Location"]
            response.close()  # a server that answered without redirecting: use its URL
            return response.url

        return self._call("download request", call, ref)
