"""The client's own memos are bounded in bytes, not only in entries.

A crawler sends each long URL once: a memo keyed by the target would keep
every one of them (key and ``:path`` value) until the entry count is reached.
"""

from __future__ import annotations

import gc
import tracemalloc
import uuid

import hyperhttp
import pytest


@pytest.mark.asyncio
async def test_h2_header_lists_for_long_targets_are_not_kept() -> None:
    async with hyperhttp.Client() as client:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            run = uuid.uuid4().hex  # URLs no earlier test parsed
            for i in range(1000):
                url = f"https://example.test/{run}/{i:06d}/" + "a" * 8000
                request = client.build_request("GET", url)
                client._encoder.h2_fields(request)
            del request
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    # 1000 targets of 8 KiB: kept they would cost 8 MiB at least.
    assert kept < 1024 * 1024, f"{kept} bytes kept after 1000 long targets"


@pytest.mark.asyncio
@pytest.mark.parametrize("http2", [False, True])
async def test_per_origin_blocks_of_large_default_fields_stay_within_a_byte_budget(
    http2: bool,
) -> None:
    """A client whose own fields are large (a 32 KiB token) keeps no 32 KiB per origin seen."""
    headers = {"x-token": "t" * 32 * 1024}
    async with hyperhttp.Client(headers=headers) as client:
        encoder = client._encoder
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(500):  # 500 origins: 16 MiB if every block were kept
                request = client.build_request("GET", f"https://host{i}.example.test/")
                if http2:
                    encoder.h2_fields(request)
                else:
                    encoder.http11_head(request)
            del request
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert kept < 2 * 1024 * 1024, f"{kept} bytes kept for 500 origins"
    assert encoder.memo_bytes <= 1 << 20


@pytest.mark.asyncio
async def test_h2_header_lists_for_short_targets_are_reused() -> None:
    async with hyperhttp.Client() as client:
        first = client._encoder.h2_fields(client.build_request("GET", "https://example.test/a"))
        second = client._encoder.h2_fields(client.build_request("GET", "https://example.test/a"))
        assert first is second


def test_long_urls_are_not_kept_by_the_process_wide_url_cache() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run = uuid.uuid4().hex
        # 1500 > the cache's 1024 entries: whenever it is cleared, 476+ stay.
        for i in range(1500):
            hyperhttp.URL(f"https://example.test/{run}/{i:06d}/" + "a" * 8000)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1024 * 1024, f"{kept} bytes kept after parsing 1500 long URLs"


def test_short_urls_are_parsed_once() -> None:
    assert hyperhttp.URL("https://example.test/x") is hyperhttp.URL("https://example.test/x")
