"""The Python package's build: the sdist's library-only Swift manifest must build libtrmdis.so exactly as the
repository's Package.swift does (same C boundary target settings, same ABI in the SONAME)."""

import re

from helpers import HEADER, REPO

MANIFEST = REPO / "bindings" / "python" / "build_support" / "Package.swift"


def capi_target(text: str) -> str:
    """The TRMDISCAPI target's declaration with comments and whitespace removed."""
    text = re.sub(r"//[^\n]*", "", text)
    start = text.index('name: "TRMDISCAPI",\n')
    depth, end = 1, start
    while depth:
        end += 1
        depth += {"(": 1, ")": -1}.get(text[end], 0)
    return re.sub(r"\s+", "", text[start:end])


def test_sdist_manifest_builds_the_library_as_the_repository_does():
    repo, sdist = (REPO / "Package.swift").read_text(), MANIFEST.read_text()
    assert capi_target(sdist) == capi_target(repo)
    header_abi = re.search(r"#define TRM_ABI_VERSION (\d+)", HEADER.read_text()).group(1)
    for text in (repo, sdist):
        assert re.search(r"let abiVersion = (\d+)", text).group(1) == header_abi
