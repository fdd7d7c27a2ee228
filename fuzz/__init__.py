"""Coverage-guided fuzzing of the byte-facing decoders (see fuzz/README.md).

Each module of :mod:`fuzz.targets` exposes ``one_input(data: bytes) -> None``:
it feeds arbitrary bytes to one decoder, accepts only that decoder's typed
errors, and checks the decoder's promises (bounds, round trips, agreement
with a reference) with ``assert``. Anything else escaping is a finding.
:mod:`fuzz.run` drives them with atheris (libFuzzer) for a bounded time;
``tests/test_fuzz_corpus.py`` replays the committed corpus through them.
"""
