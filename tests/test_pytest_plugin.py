"""The pytest plugin (hyperhttp.pytest_plugin): the hyperhttp_mock fixture and its marker.

Two kinds of test. Outcomes (a test passing, failing with a readable
message, erroring at teardown) come from small test files run by
``pytester``, in process, and once in a fresh interpreter to show that the
``pytest11`` entry point loads the plugin. The fixture's matching, recording
and interception are tested here directly: this session has the plugin too,
through the same entry point.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import ANY

import hyperhttp
import pytest
from hyperhttp import MockResponse, MockTransport, MockTransportError
from hyperhttp._mock import intercept_clients
from hyperhttp._pool_transport import PoolTransport
from hyperhttp.pytest_plugin import HyperHTTPMock, mock_clients

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.servers.fixtures import WebServer

pytest_plugins = ["pytester"]

FAST_RETRY = hyperhttp.RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.001)
INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:randomly -p no:rerunfailures
"""


DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "pytest-plugin.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """Return pytester, in a folder whose async tests need no marker (asyncio_mode = auto)."""
    pytester.makeini(INI)
    return pytester


# ================================================================ the plugin, loaded


def test_the_entry_point_loads_the_plugin_in_a_fresh_interpreter(inner: pytest.Pytester) -> None:
    """A new pytest process registers hyperhttp.pytest_plugin (pytest11 entry point)."""
    inner.makepyfile("def test_nothing(): pass")
    result = inner.runpytest_subprocess("--trace-config")
    result.stdout.fnmatch_lines(
        [
            "*PLUGIN registered: <module 'hyperhttp.pytest_plugin'*",
            "plugins:*hyperhttp-*",  # pytest names the distribution whose entry point it loaded
        ]
    )
    result.assert_outcomes(passed=1)


def test_the_marker_is_declared(inner: pytest.Pytester) -> None:
    """``pytest --markers`` lists hyperhttp_mock with its options (--strict-markers takes it)."""
    result = inner.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.hyperhttp_mock(*, assert_all_responses_were_requested=True,*should_mock*"]
    )


def test_this_session_has_the_fixture(hyperhttp_mock: HyperHTTPMock) -> None:
    """The hatch test environment loads the plugin (the fixture resolves)."""
    assert isinstance(hyperhttp_mock, HyperHTTPMock)


# ================================================================ outcomes


def test_a_mocked_test_passes(inner: pytest.Pytester) -> None:
    """A response registered and requested: the test passes."""
    inner.makepyfile(
        """
        import hyperhttp

        async def test_users(hyperhttp_mock):
            hyperhttp_mock.add_response(url="https://api.test/users", json=[{"id": 1}])
            async with hyperhttp.Client() as client:
                response = await client.get("https://api.test/users")
            assert response.json() == [{"id": 1}]
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


def test_an_unmatched_request_fails_with_the_routes(inner: pytest.Pytester) -> None:
    """The failure names the request (with the fields and JSON matched on) and every route."""
    inner.makepyfile(
        """
        import re
        import hyperhttp

        async def test_create(hyperhttp_mock):
            hyperhttp_mock.add_response(
                method="POST",
                url="https://api.test/users",
                match_headers={"Authorization": "Bearer good"},
                match_json={"name": "ada"},
            )
            hyperhttp_mock.add_response(url=re.compile(r"https://api\\.test/teams/\\d+"))
            async with hyperhttp.Client(headers={"Authorization": "Bearer bad"}) as client:
                await client.post("https://api.test/users", json={"name": "bob"})
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(failed=1, errors=1)  # the error, then teardown's checks
    result.stdout.fnmatch_lines(
        [
            (
                "E * hyperhttp.MockTransportError: hyperhttp_mock: no response for"
                " POST https://api.test/users"
            ),
            "E *   with headers {'authorization': 'Bearer bad'}",
            "E *   with json {'name': 'bob'}",
            "E * Registered responses (2):",
            (
                "E *   - POST https://api.test/users with headers {'Authorization': 'Bearer good'},"
                " json {'name': 'ada'} (not used yet)"
            ),
            'E *   - any method, URL matching "https://api\\.test/teams/\\d+" (not used yet)',
        ]
    )


def test_an_unrequested_response_fails_at_teardown(inner: pytest.Pytester) -> None:
    """The test body passes; teardown errors, listing the response never requested."""
    inner.makepyfile(
        """
        async def test_forgot(hyperhttp_mock):
            hyperhttp_mock.add_response(method="DELETE", url="https://api.test/users/1")
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_forgot*",
            "hyperhttp_mock: these responses were registered but never requested:",
            "  - DELETE https://api.test/users/1",
            "If that is on purpose: add_response(..., is_optional=True), or*",
        ]
    )


def test_a_swallowed_unexpected_request_fails_at_teardown(inner: pytest.Pytester) -> None:
    """Code that catches the error does not hide the unexpected request: teardown names it."""
    inner.makepyfile(
        """
        import hyperhttp

        async def fetch_or_default(client):
            try:
                return (await client.get("https://api.test/flags")).json()
            except hyperhttp.HTTPError:
                return {}

        async def test_defaults(hyperhttp_mock):
            async with hyperhttp.Client() as client:
                assert await fetch_or_default(client) == {}
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "hyperhttp_mock: these requests were not expected (no response answered them):",
            "  - GET https://api.test/flags",
        ]
    )


def test_a_used_up_response_says_how_to_reuse_it(inner: pytest.Pytester) -> None:
    """A second request to a route that answered once: the message suggests is_reusable."""
    inner.makepyfile(
        """
        import hyperhttp

        async def test_twice(hyperhttp_mock):
            hyperhttp_mock.add_response(url="https://api.test/ping")
            async with hyperhttp.Client() as client:
                await client.get("https://api.test/ping")
                await client.get("https://api.test/ping")
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "E *   - any method, https://api.test/ping (answered once, used up)",
            "E * Responses match it but have answered already: pass is_reusable=True*",
        ]
    )


def test_marker_options_relax_the_checks(inner: pytest.Pytester) -> None:
    """The marker turns off either teardown check and allows reuse; the closest wins."""
    inner.makepyfile(
        """
        import hyperhttp
        import pytest

        pytestmark = pytest.mark.hyperhttp_mock(assert_all_responses_were_requested=False)

        async def test_unused_is_fine(hyperhttp_mock):
            hyperhttp_mock.add_response(url="https://api.test/never")

        @pytest.mark.hyperhttp_mock(assert_all_responses_were_requested=True)
        async def test_closest_marker_wins(hyperhttp_mock):
            hyperhttp_mock.add_response(url="https://api.test/never")

        @pytest.mark.hyperhttp_mock(assert_all_requests_were_expected=False)
        async def test_unexpected_is_fine(hyperhttp_mock):
            async with hyperhttp.Client() as client:
                try:
                    await client.get("https://api.test/anything")
                except hyperhttp.MockTransportError:
                    pass

        @pytest.mark.hyperhttp_mock(can_send_already_matched_responses=True)
        async def test_reuse(hyperhttp_mock):
            hyperhttp_mock.add_response(url="https://api.test/ping", text="pong")
            async with hyperhttp.Client() as client:
                for _ in range(3):
                    assert (await client.get("https://api.test/ping")).text == "pong"
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_closest_marker_wins*"])


def test_a_misspelt_marker_option_errors(inner: pytest.Pytester) -> None:
    """An unknown option is a TypeError naming it and the options there are."""
    inner.makepyfile(
        """
        import pytest

        @pytest.mark.hyperhttp_mock(assert_all_response_were_requested=False)
        def test_typo(hyperhttp_mock):
            pass
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["E * TypeError: hyperhttp_mock: unknown option(s) ?'assert_all_response_were_req*'?;*"]
    )


def test_a_sync_test_is_intercepted_too(inner: pytest.Pytester) -> None:
    """A sync test running its own event loop: the clients it builds are mocked."""
    inner.makepyfile(
        """
        import asyncio
        import hyperhttp

        async def status():
            async with hyperhttp.Client() as client:
                return (await client.get("https://api.test/health")).status_code

        def test_sync(hyperhttp_mock):
            hyperhttp_mock.add_response(url="https://api.test/health", status_code=204)
            assert asyncio.run(status()) == 204
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


def test_a_client_built_at_import_is_not_intercepted(inner: pytest.Pytester) -> None:
    """A client built outside the test keeps the network; the test's own clients are mocked."""
    inner.makepyfile(
        """
        import hyperhttp
        from hyperhttp._mock import MockNetwork
        from hyperhttp._pool_transport import PoolTransport

        MODULE_CLIENT = hyperhttp.Client()

        async def test_only_new_clients(hyperhttp_mock):
            async with hyperhttp.Client() as client:
                assert isinstance(client._network, MockNetwork)
            assert isinstance(MODULE_CLIENT._network, PoolTransport)
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


def test_the_docs_examples_pass_under_pytest(pytester: pytest.Pytester) -> None:
    """docs/pytest-plugin.md's examples are test files that pass as they stand (strict mode).

    test_docs_examples runs them through main(); here pytest collects their
    tests, with the fixture and the marker. (One needs the docs' loopback
    server, BASE: test_docs_examples runs that one.)
    """
    pytester.makeini(INI.replace("asyncio_mode = auto\n", ""))
    blocks = [code for code in BLOCK.findall(DOCS_PAGE.read_text()) if "BASE" not in code]
    assert len(blocks) >= 4
    for number, code in enumerate(blocks):
        pytester.makepyfile(**{f"test_docs_{number}": code})
    expected = sum(code.count("\nasync def test_") for code in blocks)
    pytester.runpytest().assert_outcomes(passed=expected)


# ================================================================ interception


async def _status_from_new_client(url: str) -> int:
    """Code under test: it builds its own client."""
    async with hyperhttp.Client() as client:
        return (await client.get(url)).status_code


@pytest.mark.asyncio
async def test_a_client_built_by_the_code_under_test_is_mocked(
    hyperhttp_mock: HyperHTTPMock,
) -> None:
    """Clients built inside the code under test answer from the fixture."""
    hyperhttp_mock.add_response(url="https://api.test/health", status_code=204)
    assert await _status_from_new_client("https://api.test/health") == 204


def test_a_client_built_in_another_thread_is_mocked(hyperhttp_mock: HyperHTTPMock) -> None:
    """The hook is a module slot, not a ContextVar: a thread's own loop and client are caught."""
    hyperhttp_mock.add_response(url="https://api.test/health", status_code=202)
    seen: list[int] = []
    thread = threading.Thread(
        target=lambda: seen.append(asyncio.run(_status_from_new_client("https://api.test/health")))
    )
    thread.start()
    thread.join()
    assert seen == [202]


@pytest.mark.asyncio
async def test_a_client_given_a_transport_keeps_it(hyperhttp_mock: HyperHTTPMock) -> None:
    """transport= wins over the fixture: that client answers from its own mock."""
    own = MockTransport(MockResponse(200, text="own"))
    async with hyperhttp.Client(transport=own) as client:
        assert (await client.get("https://api.test/x")).text == "own"
    assert hyperhttp_mock.get_requests() == []


@pytest.fixture
def client_built_before() -> hyperhttp.Client:
    """Build a client before hyperhttp_mock is set up (listed first in the test's arguments)."""
    return hyperhttp.Client()


@pytest.mark.asyncio
async def test_a_client_built_before_the_fixture_uses_the_network(
    client_built_before: hyperhttp.Client,
    hyperhttp_mock: HyperHTTPMock,
    web_server: WebServer,
) -> None:
    """The client built earlier reaches the real server; one built now is mocked."""
    hyperhttp_mock.add_response(url=f"{web_server.url}/echo", json={"mocked": True})
    async with client_built_before as client:
        echoed = (await client.get(f"{web_server.url}/echo")).json()
    assert echoed["path"] == "/echo"
    async with hyperhttp.Client() as client:
        assert (await client.get(f"{web_server.url}/echo")).json() == {"mocked": True}


@pytest.mark.asyncio
@pytest.mark.hyperhttp_mock(should_mock=lambda request: request.url.host != "127.0.0.1")
async def test_should_mock_sends_the_others_to_the_network(
    hyperhttp_mock: HyperHTTPMock, web_server: WebServer
) -> None:
    """should_mock False: the request goes to the network through the client's own pool."""
    hyperhttp_mock.add_response(url="https://api.test/users", json=[])
    async with hyperhttp.Client() as client:
        assert (await client.get("https://api.test/users")).json() == []
        echoed = (await client.get(f"{web_server.url}/echo")).json()
        assert client.pool_stats().connections == 1
    assert echoed["method"] == "GET"
    assert [str(r.url) for r in hyperhttp_mock.get_requests()] == ["https://api.test/users"]


@pytest.mark.asyncio
async def test_no_mock_active_leaves_the_pool_alone() -> None:
    """Outside a test with the fixture, a client's transport is the pool, unwrapped."""
    async with hyperhttp.Client() as client:
        assert isinstance(client._network, PoolTransport)


@pytest.mark.asyncio
async def test_intercept_clients_nests_and_restores() -> None:
    """The innermost block wins; leaving it brings back the outer one, then none."""
    outer, inner = MockTransport(MockResponse(200)), MockTransport(MockResponse(201))
    with intercept_clients(outer):
        with intercept_clients(inner):
            async with hyperhttp.Client() as client:
                assert (await client.get("https://api.test/")).status_code == 201
        async with hyperhttp.Client() as client:
            assert (await client.get("https://api.test/")).status_code == 200
    async with hyperhttp.Client() as client:
        assert isinstance(client._network, PoolTransport)


# ================================================================ matching


async def _get(url: str, **kwargs: Any) -> hyperhttp.Response:
    async with hyperhttp.Client() as client:
        return await client.get(url, **kwargs)


async def _send(method: str, url: str, **kwargs: Any) -> hyperhttp.Response:
    async with hyperhttp.Client() as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.asyncio
async def test_the_method_matches_in_any_case(hyperhttp_mock: HyperHTTPMock) -> None:
    """method="post" matches POST and nothing else."""
    hyperhttp_mock.add_response(method="post", status_code=201)
    hyperhttp_mock.add_response(method="GET", status_code=200)
    assert (await _send("POST", "https://api.test/a")).status_code == 201
    assert (await _send("GET", "https://api.test/a")).status_code == 200


@pytest.mark.asyncio
async def test_the_query_matches_in_any_order(hyperhttp_mock: HyperHTTPMock) -> None:
    """Parameter order does not matter; the values, and the path, do."""
    hyperhttp_mock.add_response(url="https://api.test/s?a=1&b=2", text="found")
    assert (await _get("https://api.test/s?b=2&a=1")).text == "found"
    with pytest.raises(MockTransportError):
        await _get("https://api.test/s?a=1&b=3")
    hyperhttp_mock.reset()  # (the unexpected request, on purpose)


@pytest.mark.asyncio
async def test_repeated_parameters_match_in_order(hyperhttp_mock: HyperHTTPMock) -> None:
    """A repeated parameter's values match in the order given (as pytest-httpx)."""
    hyperhttp_mock.add_response(url="https://api.test/s?tag=a&tag=b", text="ab")
    hyperhttp_mock.add_response(url="https://api.test/s?tag=b&tag=a", text="ba")
    assert (await _get("https://api.test/s", params=[("tag", "b"), ("tag", "a")])).text == "ba"
    assert (await _get("https://api.test/s", params=[("tag", "a"), ("tag", "b")])).text == "ab"


@pytest.mark.asyncio
async def test_a_url_without_query_matches_only_without_query(
    hyperhttp_mock: HyperHTTPMock,
) -> None:
    """url="https://h/p" is the whole URL: a request with a query does not match it."""
    hyperhttp_mock.add_response(url="https://api.test/p")
    with pytest.raises(MockTransportError):
        await _get("https://api.test/p?x=1")
    assert (await _get("https://api.test/p")).status_code == 200
    hyperhttp_mock.reset()


@pytest.mark.asyncio
async def test_url_as_pattern_and_as_url(hyperhttp_mock: HyperHTTPMock) -> None:
    """A compiled pattern matches str(request.url) from its start; a hyperhttp.URL as its text."""
    hyperhttp_mock.add_response(url=re.compile(r"https://api\.test/users/\d+$"), text="user")
    hyperhttp_mock.add_response(url=hyperhttp.URL("https://api.test:443/teams"), text="teams")
    assert (await _get("https://api.test/users/42")).text == "user"
    assert (await _get("https://api.test/teams")).text == "teams"


@pytest.mark.asyncio
async def test_match_params_with_any(hyperhttp_mock: HyperHTTPMock) -> None:
    """match_params with unittest.mock.ANY matches any value of that parameter."""
    hyperhttp_mock.add_response(
        url="https://api.test/search", match_params={"q": "cats", "page": ANY}
    )
    assert (await _get("https://api.test/search", params={"page": 7, "q": "cats"})).is_success


@pytest.mark.asyncio
async def test_match_headers(hyperhttp_mock: HyperHTTPMock) -> None:
    """Each field named must carry that value (names in any case); others are ignored."""
    hyperhttp_mock.add_response(match_headers={"authorization": "Bearer t", "Accept": ANY})
    async with hyperhttp.Client(headers={"Authorization": "Bearer t"}) as client:
        assert (await client.get("https://api.test/me")).is_success


@pytest.mark.asyncio
async def test_match_json_and_content(hyperhttp_mock: HyperHTTPMock) -> None:
    """match_json compares the decoded body (ANY inside works); match_content the bytes."""
    hyperhttp_mock.add_response(match_json={"name": "ada", "id": ANY}, status_code=201)
    hyperhttp_mock.add_response(match_content=b"raw body", status_code=202)
    created = await _send("POST", "https://api.test/u", json={"id": 3, "name": "ada"})
    assert created.status_code == 201
    assert (await _send("PUT", "https://api.test/u", content=b"raw body")).status_code == 202


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_does_not_match_json(
    hyperhttp_mock: HyperHTTPMock,
) -> None:
    """match_json against a body that is no JSON: no match (not an error in the mock)."""
    hyperhttp_mock.add_response(match_json={"a": 1}, is_optional=True)
    hyperhttp_mock.add_response(status_code=400)
    assert (await _send("POST", "https://api.test/u", content=b"\xff not json")).status_code == 400


@pytest.mark.asyncio
async def test_match_extensions(hyperhttp_mock: HyperHTTPMock) -> None:
    """match_extensions compares entries of request.extensions."""
    hyperhttp_mock.add_response(match_extensions={"tenant": "blue"}, text="blue")
    async with hyperhttp.Client() as client:
        request = client.build_request("GET", "https://api.test/x")
        request.extensions["tenant"] = "blue"
        assert (await client.send(request)).text == "blue"


# ================================================================ selection


@pytest.mark.asyncio
async def test_responses_answer_in_registration_order(hyperhttp_mock: HyperHTTPMock) -> None:
    """Matching responses answer once each, first registered first."""
    for n in range(3):
        hyperhttp_mock.add_response(url="https://api.test/n", json=n)
    assert [(await _get("https://api.test/n")).json() for _ in range(3)] == [0, 1, 2]


@pytest.mark.asyncio
async def test_the_last_matching_response_is_reused_if_reusable(
    hyperhttp_mock: HyperHTTPMock,
) -> None:
    """Once all have answered, the last registered answers again when is_reusable=True."""
    hyperhttp_mock.add_response(url="https://api.test/n", json="first")
    hyperhttp_mock.add_response(url="https://api.test/n", json="again", is_reusable=True)
    got = [(await _get("https://api.test/n")).json() for _ in range(4)]
    assert got == ["first", "again", "again", "again"]


@pytest.mark.asyncio
@pytest.mark.hyperhttp_mock(assert_all_requests_were_expected=False)
async def test_only_the_last_matching_response_is_reused(hyperhttp_mock: HyperHTTPMock) -> None:
    """pytest-httpx's rule: a reusable response registered before a used-up one is not reused."""
    hyperhttp_mock.add_response(url="https://api.test/n", json="reusable", is_reusable=True)
    hyperhttp_mock.add_response(url="https://api.test/n", json="once")
    assert (await _get("https://api.test/n")).json() == "reusable"
    assert (await _get("https://api.test/n")).json() == "once"
    with pytest.raises(MockTransportError, match="have answered already"):
        await _get("https://api.test/n")


@pytest.mark.asyncio
async def test_an_optional_response_may_go_unrequested(hyperhttp_mock: HyperHTTPMock) -> None:
    """is_optional=True: never requested, and the test still passes (teardown is clean)."""
    hyperhttp_mock.add_response(url="https://api.test/maybe", is_optional=True)


@pytest.mark.asyncio
async def test_callbacks_sync_and_async(hyperhttp_mock: HyperHTTPMock) -> None:
    """A callback (sync or async) builds the response from the request."""

    def echo_path(request: hyperhttp.Request) -> MockResponse:
        return MockResponse(200, json={"path": request.url.path})

    async def echo_method(request: hyperhttp.Request) -> MockResponse:
        await asyncio.sleep(0)
        return MockResponse(200, text=request.method)

    hyperhttp_mock.add_callback(echo_path, method="GET")
    hyperhttp_mock.add_callback(echo_method, method="DELETE")
    assert (await _get("https://api.test/a/b")).json() == {"path": "/a/b"}
    assert (await _send("DELETE", "https://api.test/a")).text == "DELETE"


@pytest.mark.asyncio
@pytest.mark.hyperhttp_mock(assert_all_requests_were_expected=False)
async def test_a_callback_returning_none_leaves_the_request_unexpected(
    hyperhttp_mock: HyperHTTPMock,
) -> None:
    """None from a callback: the request is unexpected, and the message says which callback."""
    hyperhttp_mock.add_callback(lambda request: None, url="https://api.test/x")
    with pytest.raises(MockTransportError, match=r"The callback of .* returned None"):
        await _get("https://api.test/x")


@pytest.mark.asyncio
async def test_add_exception_instance_and_class(hyperhttp_mock: HyperHTTPMock) -> None:
    """An exception instance is raised as given, a class built; an HTTPError carries the request."""
    hyperhttp_mock.add_exception(hyperhttp.ReadTimeout("slow"), url="https://api.test/slow")
    hyperhttp_mock.add_exception(hyperhttp.ConnectError, url="https://api.test/down")
    with pytest.raises(hyperhttp.ReadTimeout, match="slow") as slow:
        await _get("https://api.test/slow")
    assert slow.value.request is not None
    assert str(slow.value.request.url) == "https://api.test/slow"
    with pytest.raises(hyperhttp.ConnectError, match="raised by hyperhttp_mock for GET"):
        await _get("https://api.test/down")


@pytest.mark.asyncio
async def test_retries_see_each_attempt(hyperhttp_mock: HyperHTTPMock) -> None:
    """Each network attempt is one request to the mock: a refused connection, then a 200."""
    hyperhttp_mock.add_exception(hyperhttp.ConnectError("refused"))
    hyperhttp_mock.add_response(text="ok")
    async with hyperhttp.Client(retry=FAST_RETRY) as client:
        assert (await client.get("https://api.test/flaky")).text == "ok"
    assert len(hyperhttp_mock.get_requests()) == 2


@pytest.mark.asyncio
async def test_the_client_stack_runs_over_the_mock(hyperhttp_mock: HyperHTTPMock) -> None:
    """A redirect is followed and a cookie kept, as against a server."""
    hyperhttp_mock.add_response(
        url="https://api.test/login",
        status_code=303,
        headers=[("Location", "/home"), ("Set-Cookie", "sid=1; Path=/")],
    )
    hyperhttp_mock.add_response(url="https://api.test/home", match_headers={"Cookie": "sid=1"})
    response = await _send("POST", "https://api.test/login")
    assert str(response.url) == "https://api.test/home"


@pytest.mark.asyncio
async def test_response_bodies_and_versions(hyperhttp_mock: HyperHTTPMock) -> None:
    """html= is text/html; httpx's "HTTP/2.0" is HTTP/2; headers and status are sent as given."""
    hyperhttp_mock.add_response(html="<p>hi</p>", http_version="HTTP/2.0", headers={"X-A": "1"})
    response = await _get("https://api.test/page")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.http_version == "HTTP/2"
    assert response.headers["x-a"] == "1"
    assert response.text == "<p>hi</p>"


# ================================================================ recorded requests


@pytest.mark.asyncio
async def test_requests_are_recorded_as_sent(hyperhttp_mock: HyperHTTPMock) -> None:
    """get_request() returns the request as the wire carries it: Host, framing, body."""
    hyperhttp_mock.add_response(method="POST")
    await _send("POST", "https://api.test/u", json={"a": 1})
    request = hyperhttp_mock.get_request()
    assert request is not None
    assert request.headers["host"] == "api.test"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(request.content or b""))
    assert request.content == b'{"a":1}'


@pytest.mark.asyncio
async def test_get_requests_filters_like_routes(hyperhttp_mock: HyperHTTPMock) -> None:
    """get_requests takes the matchers add_response takes; no arguments: every request."""
    hyperhttp_mock.add_response(is_reusable=True)
    await _get("https://api.test/a?x=1")
    await _send("POST", "https://api.test/a", json={"n": 1})
    await _send("POST", "https://api.test/b", json={"n": 2})
    assert len(hyperhttp_mock.get_requests()) == 3
    assert len(hyperhttp_mock.get_requests(method="POST")) == 2
    assert len(hyperhttp_mock.get_requests(url="https://api.test/a", match_params={"x": ANY})) == 1
    posted = hyperhttp_mock.get_request(match_json={"n": 2})
    assert posted is not None
    assert posted.url.path == "/b"
    assert hyperhttp_mock.get_request(method="PATCH") is None


@pytest.mark.asyncio
async def test_get_request_refuses_two(hyperhttp_mock: HyperHTTPMock) -> None:
    """get_request() with two matching requests fails, naming them."""
    hyperhttp_mock.add_response(is_reusable=True)
    await _get("https://api.test/1")
    await _get("https://api.test/2")
    with pytest.raises(AssertionError, match=r"2 requests matched, not one"):
        hyperhttp_mock.get_request()


@pytest.mark.asyncio
async def test_reset_forgets_routes_and_requests(hyperhttp_mock: HyperHTTPMock) -> None:
    """After reset() nothing is registered or recorded (and teardown has nothing to check)."""
    hyperhttp_mock.add_response(url="https://api.test/a")
    hyperhttp_mock.add_response(url="https://api.test/never")
    await _get("https://api.test/a")
    hyperhttp_mock.reset()
    assert hyperhttp_mock.get_requests() == []
    with pytest.raises(MockTransportError, match="No response is registered"):
        await _get("https://api.test/a")
    hyperhttp_mock.reset()


# ================================================================ checked when registered


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"match_params": {"a": "1"}}, ValueError, "match_params needs a url"),
        (
            {"url": re.compile("x"), "match_params": {"a": "1"}},
            ValueError,
            "regular-expression",
        ),
        ({"url": "https://h/p?a=1", "match_params": {"a": "1"}}, ValueError, "no query"),
        ({"match_json": {}, "match_content": b""}, ValueError, "one way"),
        ({"url": "not a url"}, ValueError, "not a url"),
        ({"url": 3}, TypeError, "url must be"),
        ({"method": 404}, TypeError, "method must be a str"),
        ({"is_reusable": "yes"}, TypeError, "is_reusable must be a bool"),
        ({"status_code": 99}, ValueError, "status_code"),
        ({"json": {}, "text": "x"}, TypeError, "at most one"),
        ({"html": "<p>", "text": "x"}, TypeError, "at most one"),
    ],
)
def test_mistakes_fail_when_registered(kwargs: dict[str, Any], error: type, message: str) -> None:
    """A matcher that cannot match, or a response no server could send, fails at once."""
    mock = HyperHTTPMock()
    with pytest.raises(error, match=message):
        mock.add_response(**kwargs)


def test_a_pytest_httpx_positional_status_fails_loudly() -> None:
    """add_response(404) (pytest-httpx's first positional) is a TypeError, not a method."""
    add: Any = HyperHTTPMock().add_response  # (typed: mypy would refuse the call)
    with pytest.raises(TypeError):
        add(404)


def test_bad_options_are_type_errors() -> None:
    """Options are checked when the mock is built: bools, a callable should_mock."""
    with pytest.raises(TypeError, match="must be a bool"):
        HyperHTTPMock(assert_all_requests_were_expected="no")
    with pytest.raises(TypeError, match="should_mock must be callable"):
        HyperHTTPMock(should_mock=True)
    with pytest.raises(TypeError, match="exception must be"):
        HyperHTTPMock().add_exception("boom")  # type: ignore[arg-type]


# ================================================================ outside pytest


def test_mock_clients_checks_on_exit() -> None:
    """mock_clients() is the fixture outside pytest: it checks on a clean exit."""

    async def fetch() -> str:
        async with hyperhttp.Client() as client:
            return (await client.get("https://api.test/a")).text

    with mock_clients() as mock:
        mock.add_response(text="a")
        assert asyncio.run(fetch()) == "a"
    with pytest.raises(AssertionError, match="never requested"), mock_clients() as mock:
        mock.add_response(url="https://api.test/never")


def test_mock_clients_does_not_mask_an_error() -> None:
    """An exception from the block goes up as is; the checks are skipped."""

    def fail_inside() -> None:
        with mock_clients() as mock:
            mock.add_response(url="https://api.test/never")
            raise KeyError("the real failure")

    with pytest.raises(KeyError, match="the real failure"):
        fail_inside()


@pytest.fixture
def outer_mock() -> Iterator[HyperHTTPMock]:
    with mock_clients(assert_all_responses_were_requested=False) as mock:
        yield mock


def test_the_mock_repr(outer_mock: HyperHTTPMock) -> None:
    """The repr counts responses and requests."""
    outer_mock.add_response()
    assert repr(outer_mock) == "<HyperHTTPMock [1 responses, 0 requests]>"
