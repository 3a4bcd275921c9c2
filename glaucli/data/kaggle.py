"""The Kaggle API client: credentials, the dataset's current version, the signed storage URL.

Kaggle's own `kagglesdk` makes the API calls (GetDataset for the version, DownloadDataset
for a signed storage URL); this is the only module that imports it. Its session gets a
timeout and urllib3's Retry (connection failures, timeouts, 429 and 5xx, honouring
Retry-After), each retry announced. The archive itself is streamed by data/transfer.py,
because neither Kaggle client resumes or reports progress. `kagglehub` is not used: its credential lookup skips
~/.config/kaggle/kaggle.json and it silently goes anonymous.
"""

from __future__ import annotations

from glaucli import events
from glaucli.data import credentials as creds_mod
from glaucli.data import neterrors, transfer
from glaucli.errors import InputError, UsageError, WorkError

DATASETS = {
    "v2": "deathtrooper/glaucoma-dataset-eyepacs-airogs-light-v2",
    "v1": "deathtrooper/eyepacs-airogs-light",
}
MAX_ATTEMPTS = transfer.ATTEMPTS  # per API call, and per download (data/download.py)
RETRY_STATUSES = (429, 500, 502, 503, 504)  # rate-limited or overloaded: worth another try


def resolve_dataset_ref(dataset: str) -> tuple[str, str]:
    """`v1`/`v2`/`owner/slug` -> (owner/slug, default folder name)."""
    if dataset in DATASETS:
        return DATASETS[dataset], dataset
    parts = dataset.strip("/").split("/")
    if len(parts) != 2 or not all(p.strip(".") for p in parts):
        raise UsageError(f"unknown dataset {dataset!r}", hint="use v1, v2 or owner/slug")
    return dataset, parts[1]


def tune_session(client, timeout: tuple[float, float], retry=None, *, on_event: events.Listeners = None) -> bool:
    """The one place that touches kagglesdk's private HTTP session (`_init_session`,
    `_session`): a timeout on every request (kagglesdk sets none; a stalled API server must
    not hang us), `retry` (a urllib3 Retry) and no redirects (DownloadDataset answers 302 to
    the signed storage URL; following it would open, and waste, a transfer). If a kagglesdk
    release moves these, the download still works, without the timeout and retries: a
    warning (Warned) says so and False is returned. tests/data/test_kaggle.py fails loudly when they move."""
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
            session.mount(scheme, TimeoutAdapter(max_retries=retry or 0))
        session.max_redirects = 0
    except (AttributeError, TypeError) as exc:
        events.dispatcher(on_event).warn(
            f"this kagglesdk version is not the one glaucli knows ({type(exc).__name__}: {exc}); "
            "Kaggle API calls run without glaucli's timeout and retries")
        return False
    return True


def said_retry(attempts: int, state: dict, *, on_event: events.Listeners = None):
    """urllib3's Retry for `attempts` tries of one API call, as glaucli retries: every method
    (the calls are POSTs that only read), connection failures, timeouts and RETRY_STATUSES,
    Retry-After honoured, else GLAUCLI_RETRY_BACKOFF doubling; each retry announced (a silent
    back-off looks like a hang); no retry where it cannot help (a name that does not resolve,
    a refusal on the first try: neterrors). `state` carries `what` (the call, set by the
    caller) in, and `tries` and `gave_up` (stopped early) out, for the final message. Each
    retry is a Warned event."""
    on_event = events.dispatcher(on_event)
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class SaidRetry(Retry):
        def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
            state["tries"] = len(self.history) + 1  # including the one that just failed
            if error is not None and not neterrors.describe(error, url).worth_retrying(len(self.history)):
                state["gave_up"] = True
                raise MaxRetryError(_pool, url, error) from error
            new = super().increment(method, url, response, error, _pool, _stacktrace)  # raises when spent
            delay = (new.get_retry_after(response) if response is not None else None)
            delay = new.get_backoff_time() if delay is None else delay
            cause = f"HTTP {response.status}" if response is not None else str(neterrors.describe(error, url))
            on_event.warn(f"Kaggle {state.get('what', 'API call')} failed ({cause}); retrying in {delay:g} s "
                          f"(attempt {len(new.history) + 1}/{attempts})")
            return new

        def get_backoff_time(self) -> float:
            return transfer.backoff(len(self.history) - 1) if self.history else 0.0

    return SaidRetry(total=attempts - 1, allowed_methods=None, status_forcelist=RETRY_STATUSES,
                     raise_on_status=False, respect_retry_after_header=True, redirect=False)


class _Api:
    def __init__(self, found: creds_mod.Credentials | None, on_event: events.Listeners = None):
        from kagglesdk import KaggleClient

        self.found = found
        on_event = events.dispatcher(on_event)
        kwargs = {}
        if found and found.token:
            kwargs["api_token"] = found.token
        elif found:
            kwargs.update(username=found.username, password=found.key)
        self.client = KaggleClient(**kwargs)
        self.state: dict = {}
        tune_session(self.client, transfer.timeouts(), said_retry(MAX_ATTEMPTS, self.state, on_event=on_event),
                     on_event=on_event)

    def _call(self, what: str, fn, ref: str):
        """One API call (urllib3's Retry inside, see said_retry), its failure as one line."""
        import requests

        self.state.update(what=what, tries=1, gave_up=False)
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
            if status in RETRY_STATUSES and self.state["tries"] > 1:
                raise WorkError(f"Kaggle {what} failed after {self.state['tries']} attempts: HTTP {status}",
                                hint=self.offline_hint(ref)) from None
            raise WorkError(f"Kaggle {what} failed ({status})", hint=self.offline_hint(ref)
                            if status in RETRY_STATUSES else None) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            failure = neterrors.describe(exc)
            if self.state["gave_up"] or self.state["tries"] == 1:
                raise WorkError(f"Kaggle {what} failed: cannot reach {failure}", hint=self.offline_hint(ref)) from None
            raise WorkError(f"Kaggle {what} failed after {self.state['tries']} attempts: {failure}",
                            hint=self.offline_hint(ref)) from None

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
