"""The Python package's build: the sdist's library-only Swift manifest must build libtrmdis.so exactly as the
repository's Package.swift does (same C boundary target settings, same ABI in the SONAME)."""

import re

from helpers import HEADER, REPO

MANIFEST = REPO / "bindings" / "python" / "build_support" / "Package.swift"


def target(text: str, name: str) -> str:
    """A target's declaration (from its name to its closing parenthesis) with comments and whitespace removed."""
    text = re.sub(r"//[^\n]*", "", text)
    start = re.search(r'\.target\(\s*name: "%s"' % name, text).start()
    depth, end = 0, start
    while True:
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if text[end] == ")" and depth == 0:
            break
        end += 1
    return re.sub(r"\s+", "", text[start:end + 1])


def test_sdist_manifest_builds_the_library_as_the_repository_does():
    repo, sdist = (REPO / "Package.swift").read_text(), MANIFEST.read_text()
    for name in ("TRMDISKernelsC", "TRMDIS", "TRMDISCAPI"):
        assert target(sdist, name) == target(repo, name), name
    header_abi = re.search(r"#define TRM_ABI_VERSION (\d+)", HEADER.read_text()).group(1)
    for text in (repo, sdist):
        assert re.search(r"let abiVersion = (\d+)", text).group(1) == header_abi
