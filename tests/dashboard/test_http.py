"""The dashboard over HTTP (no browser): sessions, CSRF, roles, tenant isolation, escaping, refusals."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.dashboard import read_routes, reads
from app.dashboard.session import LOGIN_COOKIE, SESSION_COOKIE
from app.services.flow import FLOW_METRIC, DailyFlow
from app.services.runtime import ServiceRuntime
from tests.api.conftest import ADMIN_KEY, Service, running_service, tenant_with_key

# One service for the module (each test works in its own tenant): four start-ups cost more than the tests.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory, mongo_url: str) -> AsyncIterator[Service]:
    """The API (real uvicorn, Mongo-wire server, LND simulator) shared by this module's tests."""
    async with running_service(
        tmp_path_factory.mktemp("dashboard-http"),
        mongo_url,
        simulated_until_s=int(time.time()),  # forwards up to now, for the overview's flow
        rate_limit_per_second=1_000,
    ) as running:
        yield running


# httpx keeps Secure cookies off plain http (as it should): the tests hand the cookies over themselves.


def cookie_from(response: httpx.Response, name: str) -> tuple[str, str]:
    """(value, attributes) of a cookie the response sets."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            value, _, attributes = header.partition(";")
            return value.split("=", 1)[1], attributes
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


async def sign_in(http: httpx.AsyncClient, key: str) -> str:
    """The session cookie's value after logging in with `key` through the form."""
    form = await http.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    login_cookie, _ = cookie_from(form, LOGIN_COOKIE)
    answer = await http.post(
        "/dashboard/login",
        data={"csrf": token.group(1), "api_key": key},
        headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie}"},
    )
    assert answer.status_code == 303, answer.text
    value, attributes = cookie_from(answer, SESSION_COOKIE)
    assert {"HttpOnly", "Secure", "SameSite=strict", "Path=/dashboard"} <= {
        a.strip() for a in attributes.split(";")
    }
    assert key not in value
    return value


def with_session(value: str) -> dict[str, str]:
    """Headers that carry a session cookie."""
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def csrf_in(html: str) -> str:
    """The session's CSRF token from a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_pages_need_a_session_and_the_login_form_its_token(service: Service):
    _, viewer = await tenant_with_key(service, "lookers", role="viewer")
    async with service.client() as http:
        for path in ("/dashboard", "/dashboard/nodes", "/dashboard/nodes/abc/channels"):
            answer = await http.get(path, follow_redirects=True)
            assert answer.url.path == "/dashboard/login", path
        assert (
            'id="plain-http"' not in (await http.get("/dashboard/login")).text
        )  # loopback keeps Secure cookies
        remote = await http.get("/dashboard/login", headers={"Host": "dash.example"})
        assert 'id="plain-http"' in remote.text  # elsewhere plain HTTP would lose the session: said up front
        no_token = await http.post("/dashboard/login", data={"api_key": viewer})
        assert no_token.status_code == 403 and "login form expired" in no_token.text
        form = await http.get("/dashboard/login")
        token = csrf_in(form.text)
        login_cookie, attributes = cookie_from(form, LOGIN_COOKIE)
        assert "HttpOnly" in attributes and "SameSite=strict" in attributes
        wrong = await http.post(
            "/dashboard/login",
            data={"csrf": token, "api_key": "mcp_wrong"},
            headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie}"},
        )
        assert wrong.status_code == 401 and "Unknown or revoked API key." in wrong.text
        admin = await http.post(
            "/dashboard/login",
            data={"csrf": token, "api_key": ADMIN_KEY},
            headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie}"},
        )
        assert admin.status_code == 403 and "owns no nodes" in admin.text
        forged = await http.post(  # another site signing the visitor in under its own key (login CSRF)
            "/dashboard/login",
            data={"csrf": token, "api_key": viewer},
            headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie}", "Origin": "https://evil.example"},
        )
        assert forged.status_code == 403 and "not from this dashboard" in forged.text
        assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
        session = await sign_in(http, viewer)
        page = await http.get("/dashboard/nodes", headers=with_session(session))
        assert page.status_code == 200 and "viewer" in page.text
        assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        altered = session[:-3] + ("aaa" if not session.endswith("aaa") else "bbb")
        assert (await http.get("/dashboard/nodes", headers=with_session(altered))).status_code == 303


async def test_a_revoked_key_ends_its_session_at_once(service: Service):
    tenant_id, admin = await tenant_with_key(service, "revokers")
    async with service.client(admin) as api:
        issued = (
            await api.post(f"/api/v1/tenants/{tenant_id}/keys", json={"name": "v", "role": "viewer"})
        ).json()
    async with service.client() as http:
        session = await sign_in(http, issued["key"])
        assert (await http.get("/dashboard/nodes", headers=with_session(session))).status_code == 200
        async with service.client(admin) as api:
            revoked = await api.delete(f"/api/v1/tenants/{tenant_id}/keys/{issued['id']}")
            assert revoked.status_code in (200, 204), revoked.text
        after = await http.get("/dashboard/nodes", headers=with_session(session))
        assert after.status_code == 303 and after.headers["location"] == "/dashboard/login"


async def test_roles_tenants_csrf_and_escaping(service: Service):
    tenant_id, admin = await tenant_with_key(service, "owners")
    async with service.client(admin) as api:
        node = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        assert (await api.post(f"/api/v1/nodes/{node}/optimize", json={"mode": "shadow"})).status_code == 200
        viewer = (
            await api.post(f"/api/v1/tenants/{tenant_id}/keys", json={"name": "v", "role": "viewer"})
        ).json()
    _, stranger = await tenant_with_key(service, "strangers")
    async with service.client() as http:
        mine = with_session(await sign_in(http, viewer["key"]))
        theirs = with_session(await sign_in(http, stranger))
        channels = await http.get(f"/dashboard/nodes/{node}/channels", headers=mine)
        assert channels.status_code == 200 and channels.text.count("<tr data-chan=") > 5
        assert (
            await http.get(f"/dashboard/nodes/{node}", headers=theirs)
        ).status_code == 404  # another tenant's
        hostile = await http.get(
            f"/dashboard/nodes/{node}/channels", params={"q": "<script>alert(1)</script>"}, headers=mine
        )
        assert (
            hostile.status_code == 200 and "<script>" not in hostile.text and "&lt;script&gt;" in hostile.text
        )
        unknown = await http.get(f"/dashboard/nodes/{node}/channels", params={"debug": "1"}, headers=mine)
        assert unknown.status_code == 422
        bad = await http.get(f"/dashboard/nodes/{node}/shadow", params={"days": "1000"}, headers=mine)
        assert bad.status_code == 422 and "from 1 to 90" in bad.text
        assert (await http.get("/dashboard/nodes/..%2f..%2fetc", headers=mine)).status_code in (404, 422)
        token = csrf_in(channels.text)
        approve = f"/dashboard/nodes/{node}/backups"
        as_viewer = await http.post(approve, data={"csrf": token}, headers=mine)
        assert as_viewer.status_code == 403 and "operator role" in as_viewer.text
        forged = await http.post(approve, data={"csrf": "guess"}, headers=mine)
        assert forged.status_code == 403 and "CSRF" in forged.text
        css = await http.get("/dashboard/static/dashboard.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert (await http.get("/dashboard/static/..%2fsession.py")).status_code == 404


async def test_the_overview_counts_the_latest_cycle_and_shows_the_flow_its_sync_counted(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(
        read_routes, "GATE_WAIT_S", 60.0
    )  # the gate on the first visit, however loaded the machine
    tenant_id, admin = await tenant_with_key(service, "counters")
    async with service.client(admin) as api:
        node = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        for _ in range(2):
            cycle = await api.post(f"/api/v1/nodes/{node}/optimize", json={"mode": "shadow"})
            assert cycle.status_code == 200, cycle.text
        listed = await api.get(f"/api/v1/nodes/{node}/decisions", params={"limit": 500})
    runtime: ServiceRuntime = service.app.state.runtime
    newest = cycle.json()["cycle_id"]
    kinds = Counter(d["kind"] for d in listed.json()["items"] if d["cycle_id"] == newest)
    point = await runtime.storage.metrics.latest(tenant_id, node, FLOW_METRIC)
    assert point is not None
    flow = DailyFlow.from_labels(point.labels)
    assert flow is not None
    async with service.client() as http:
        overview = await http.get(
            f"/dashboard/nodes/{node}", headers=with_session(await sign_in(http, admin))
        )
    assert overview.status_code == 200, overview.text
    shown = dict(re.findall(r'decision=([a-z_]+)">[a-z_]+</a></td><td class="num">(\d+)<', overview.text))
    assert {kind: int(count) for kind, count in shown.items()} == dict(kinds)  # the newest cycle's only
    assert sum(kinds.values()) == cycle.json()["channels"] and len(kinds) >= 2
    forwards = f"Forwards per UTC day: {sum(flow.forwards):,} in all"
    assert forwards in overview.text and sum(flow.forwards) > 0
    assert overview.text.count('<rect class="bar"') == 2 * len(flow.days)
    assert (
        len(re.findall(r"<tr><td>[^<]+</td><td><code>[0-9a-f]{12}</code>", overview.text)) == 2
    )  # two syncs
    assert 'id="gate"' in overview.text and "cycles" in overview.text


async def test_a_gate_not_judged_in_time_shows_the_stage_and_the_page_refreshes_until_it_is(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    _, admin = await tenant_with_key(service, "patient")
    async with service.client(admin) as api:
        node = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        cycle = await api.post(f"/api/v1/nodes/{node}/optimize", json={"mode": "shadow"})
        assert cycle.status_code == 200, cycle.text
    # The gate is held back, as a slow node holds back a canary gate, until the test lets it go.
    release = asyncio.Event()
    judge = reads.DashboardReads._rollout_or_error

    async def held(self: reads.DashboardReads, *args: Any) -> Any:
        await release.wait()
        return await judge(self, *args)

    monkeypatch.setattr(reads.DashboardReads, "_rollout_or_error", held)
    async with service.client() as http:
        session = with_session(await sign_in(http, admin))
        base = f"/dashboard/nodes/{node}"
        first = await http.get(base, headers=session)
        assert first.status_code == 200, first.text
        assert 'id="stage">shadow<' in first.text and "Being judged" in first.text
        refresh = f'<meta http-equiv="refresh" content="{reads.GATE_REFRESH_S}; url={base}?judging=1">'
        assert refresh in first.text
        assert 'id="gate"' not in first.text and 'id="kinds"' in first.text  # the rest is all there
        again = await http.get(base, params={"judging": "2"}, headers=session)
        assert "judging=3" in again.text and "and then waits for it" in again.text
        # The refresh the page announced waits for the gate: a judging that keeps failing slowly cannot keep
        # the page refreshing; it shows the gate, or why it cannot be judged.
        patient = asyncio.create_task(
            http.get(base, params={"judging": str(reads.GATE_PATIENT_AFTER)}, headers=session)
        )
        done, _ = await asyncio.wait({patient}, timeout=1.0)
        assert not done  # still waiting for the held gate
        release.set()
        shown = await patient
        assert 'id="gate"' in shown.text and "http-equiv" not in shown.text and "shadow_cycles" in shown.text
        for wrong in ("0", "x", "21"):
            refused = await http.get(base, params={"judging": wrong}, headers=session)
            assert refused.status_code == 422 and "judging must be" in refused.text


async def test_a_node_never_synced_has_pages_that_say_so(service: Service):
    _, admin = await tenant_with_key(service, "newcomers")
    async with service.client(admin) as api:
        node = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
    async with service.client() as http:
        session = with_session(await sign_in(http, admin))
        base = f"/dashboard/nodes/{node}"
        overview = await http.get(base, headers=session)
        assert overview.status_code == 200, overview.text
        assert "no sync yet" in overview.text and "no decision yet" in overview.text
        assert "no sync has read the node&#39;s forwarding history yet" in overview.text
        assert 'id="stage">shadow<' in overview.text
        channels = await http.get(f"{base}/channels", headers=session)
        assert channels.status_code == 200 and "has not been synced" in channels.text
        unknown = await http.get(f"{base}/channels/123", headers=session)
        assert unknown.status_code == 404 and "not among" in unknown.text
        empty = {
            "transactions": "No policy was written",
            "backups": "No backup",
            "approvals": "Nothing waits",
        }
        for page, text in empty.items():
            answer = await http.get(f"{base}/{page}", headers=session)
            assert answer.status_code == 200 and text in answer.text, page
        assert (await http.get(f"{base}/transactions/nope", headers=session)).status_code == 404
        assert (await http.get("/dashboard/nodes/not-a-node", headers=session)).status_code == 404
