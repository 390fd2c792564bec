"""Response headers and cookie flags that every answer carries, and where a redirect taken
from the request may lead."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

#: Nothing inline: scripts and styles come from /static only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
}


def register(app: Flask) -> None:
    secure = bool(app.config.get("SECURE_COOKIES"))
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["REMEMBER_COOKIE_SECURE"] = secure

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if not (request.endpoint or "").endswith("static"):  # ours and Bootstrap's
            # Pages and API answers hold children's data: no copy in any cache, the
            # browser's back-forward cache included.
            response.headers["Cache-Control"] = "no-store"
        return _whole_page_redirect(response)


def _whole_page_redirect(response: Response) -> Response:
    """A part of a page fetched by htmx (suggestions, autosave, typeahead) after the session
    ended would otherwise get the sign-in page swapped into the part, or nothing: tell htmx
    to take the whole page there instead (HX-Redirect), so the user sees why."""
    if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302, 303):
        return response
    target = local_path(response.location)
    if target is None or not target.startswith("/login"):
        return response
    answer = Response(status=401)
    answer.headers["HX-Redirect"] = target
    for name, value in response.headers.items():  # the security headers, the cookie
        if name.lower() not in ("location", "content-length", "content-type"):
            answer.headers.add(name, value)
    return answer


def local_path(url: str | None) -> str | None:
    """`url` as a path of this site ("/cases/7?lang=en"), or None when it leads elsewhere.

    A full URL counts only when its host is the one this request came to (a Referer is
    always a full URL). Refused: other hosts, `//host` and `/\\host` (browsers read both as
    another host), other schemes, and control characters."""
    if not url or any(ord(char) < 0x20 or char == "\\" for char in url):
        return None
    parts = urlsplit(url)
    elsewhere = parts.scheme not in ("http", "https") or parts.netloc != request.host
    if (parts.scheme or parts.netloc) and elsewhere:
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")
