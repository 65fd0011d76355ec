"""How a check's URL is shown, and which URLs are the same origin.

A health check's URL often carries a credential: ``https://user:pass@host/health`` or
``/health?token=...``. Wherever a check is named or described (the console, stdout, the report,
the audit log) it is shown without its userinfo, query and fragment: ``shown_url`` is the one
rule, applied where the check is parsed (its default name is the shown URL) so every client
prints the same safe string and none keeps its own copy. ``redact_urls`` applies it to every URL
inside a text (a name the config gave, a probe's error).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

# A URL inside free text: a scheme, "://", then anything up to whitespace or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def shown_url(url: str) -> str:
    """``url`` without ``user:pass@``, ``?query`` and ``#fragment``: scheme, host, port, path.

    Split by hand with urlsplit's own boundaries (the authority ends at the first ``/``, ``?``
    or ``#``; userinfo ends at its last ``@``), so a URL urlsplit would reject (a bad port) is
    still shown safely rather than raising."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return re.split(r"[?#]", url, maxsplit=1)[0]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host = rest[:end].rpartition("@")[2]
    path = re.split(r"[?#]", rest[end:], maxsplit=1)[0]
    return f"{scheme}://{host}{path}"


def redact_urls(text: str) -> str:
    """Every URL in ``text`` as ``shown_url`` shows it; the rest of the text unchanged."""
    return _URL_IN_TEXT.sub(lambda m: _shown_in_text(m.group()), text) if "://" in text else text


def _shown_in_text(url: str) -> str:
    """Punctuation that ends a sentence, and a ``)`` closing a parenthesis opened before the URL,
    stay in the text (as GitHub's autolinks read them), not cut with the query."""
    kept = len(url)
    while kept and (url[kept - 1] in ".,;:!?'" or (url[kept - 1] == ")" and
                                                 url.count("(", 0, kept) < url.count(")", 0, kept))):
        kept -= 1
    return shown_url(url[:kept]) + url[kept:]


def origin(parts: SplitResult) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in; ValueError on a bad port."""
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def redirect_refusal(source: str, target: str) -> str | None:
    """Why a redirect from ``source`` to ``target`` is not followed, or None (same origin).

    Another origin is refused rather than followed without credentials: a check names one
    endpoint, and an answer from elsewhere (a login page's 200 on another host) says nothing
    about it; refusing also keeps the token from ever leaving the origin the config named.
    https to http is always refused: it would send the request, token and all, in clear."""
    try:
        here, there = urlsplit(source), urlsplit(target)
        if here.scheme.lower() == "https" and there.scheme.lower() != "https":
            return f"redirect from https to {there.scheme or 'no scheme'} refused ({shown_url(target)})"
        if origin(here) != origin(there):
            return f"redirect to another origin refused ({shown_url(target)})"
    except ValueError:
        return f"redirect to an invalid URL refused ({shown_url(target)})"
    return None
