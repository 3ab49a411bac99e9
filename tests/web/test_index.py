"""The web app's files: served by zunft with revalidation headers, a strict CSP on its pages,
German first, nothing referenced from another origin, and small."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from zunft.web.app import STATIC, load_static

SHELL_BUDGET = 200 * 1024  # bytes, uncompressed: HTML, JS and CSS of the app shell
# Everything the web app has, with the screens loaded only when opened (owner's archive and
# compliance, customers, reports, gallery, viewer, voice): a guard against bloat.
ALL_SCREENS_BUDGET = 300 * 1024


def csp(r: object) -> dict[str, str]:
    header = r.headers["content-security-policy"]  # type: ignore[attr-defined]
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_index_is_the_german_app_shell_with_a_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in r.text
    assert '<script type="module" src="/app/main.js"></script>' in r.text
    policy = csp(r)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"].split()[0] == "'self'"
    assert policy["connect-src"] == "'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    for value in policy.values():
        assert "unsafe" not in value
        assert "*" not in value
        assert "http" not in value
    assert r.headers["x-content-type-options"] == "nosniff"


def test_api_keeps_the_empty_policy(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert r.headers["cache-control"] == "no-store"


def test_a_forged_host_never_reaches_the_policy(client: TestClient) -> None:
    r = client.get("/", headers={"host": "evil.example; script-src *"})
    assert "evil" not in r.headers["content-security-policy"]
    assert csp(r)["connect-src"] == "'self'"


def test_static_files_revalidate_with_etags(client: TestClient) -> None:
    for path, media in [
        ("/app/main.js", "text/javascript"),
        ("/app/app.css", "text/css"),
        ("/sw.js", "text/javascript"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/app/icons/icon-192.png", "image/png"),
        ("/app/icons/icon.svg", "image/svg+xml"),
    ]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(media), path
        assert r.headers["cache-control"] == "no-cache"
        again = client.get(path, headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    assert client.get("/app/nothing.js").status_code == 404
    assert client.get("/app/../web/app.py").status_code == 404


def test_no_file_of_the_app_references_another_origin() -> None:
    for path in STATIC.rglob("*"):
        if path.suffix in {".html", ".js", ".css", ".webmanifest", ".svg"}:
            text = path.read_text()
            # The only absolute URL allowed is the SVG namespace (an identifier, never loaded).
            urls = set(re.findall(r"[a-z]+://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
            assert urls == set(), f"{path}: {urls}"
            # Nor a protocol-relative one ("//host/...") in an attribute or a url().
            assert re.findall(r"(?:src|href)=\"//|url\(\s*['\"]?//", text) == [], path


def _boot_files(files: dict[str, tuple[bytes, str, str]]) -> set[str]:
    """What the browser loads to open the app: the page, its stylesheet, the manifest, the
    service worker, and main.js with every module it imports statically (transitively).
    Modules behind a dynamic import() load when their screen is first opened."""
    found: set[str] = set()
    todo = ["/app/main.js"]
    while todo:
        url = todo.pop()
        if url in found:
            continue
        found.add(url)
        text = files[url][0].decode()
        for rel in re.findall(r'^import[^;]*?from\s+"(\./[^"]+)"', text, re.MULTILINE):
            base = url.rsplit("/", 1)[0]
            parts = [*base.split("/"), *rel.split("/")]
            out: list[str] = []
            for part in parts:
                if part == "..":
                    out.pop()
                elif part not in (".", ""):
                    out.append(part)
            todo.append("/" + "/".join(out))
    return found | {"/", "/app/app.css", "/manifest.webmanifest", "/sw.js"}


def test_the_app_shell_is_at_most_200_kb() -> None:
    files = load_static()
    boot = _boot_files(files)
    assert "/app/chat.js" in boot  # the chat is part of the shell
    assert "/app/reports.js" not in boot  # a screen behind import() is not
    shell = sum(len(files[url][0]) for url in boot)
    assert shell <= SHELL_BUDGET, f"app shell is {shell} bytes: {sorted(boot)}"


def test_all_screens_together_stay_small() -> None:
    files = load_static()
    total = sum(len(body) for url, (body, _, _) in files.items() if not url.endswith(".png"))
    assert total <= ALL_SCREENS_BUDGET, f"the web app's files are {total} bytes"


def test_every_string_has_both_languages() -> None:
    folder = Path(STATIC, "app", "i18n")

    def keys(name: str) -> set[str]:
        return set(re.findall(r"^  ([a-z_]+):", (folder / name).read_text(), re.M))

    de, en = keys("de.js"), keys("en.js")
    assert de == en
    used = set()
    for js in Path(STATIC, "app").glob("*.js"):
        if js.name != "i18n.js":
            used |= set(re.findall(r"\bt\(\"([a-z_]+)\"[,)]", js.read_text()))
    assert len(used) > 50
    assert used - de == set()


def test_trailing_slash_is_not_redirected(client: TestClient) -> None:
    r = client.get("/api/v1/health/", follow_redirects=False)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_the_service_worker_caches_every_file_of_the_shell() -> None:
    sw = (STATIC / "sw.js").read_text()
    listed = set(re.findall(r'^  "(/[^"]*)",$', sw, re.M))
    shell = {url for url in load_static() if not url.endswith(".png") and url != "/sw.js"}
    assert shell - listed == set(), "add these to SHELL in sw.js (and bump VERSION)"
    assert listed - set(load_static()) == set()


def test_the_customer_link_opens_the_shell_without_a_referrer(client: TestClient) -> None:
    """/kunde#<token> (customers/mail.py): the same shell and policy as "/"; the token is in
    the fragment, and no page of the app ever sends a Referer."""
    r = client.get("/kunde")
    assert r.status_code == 200
    assert r.text == client.get("/").text
    assert csp(r)["script-src"] == "'self'"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/kunde/x").status_code == 404
