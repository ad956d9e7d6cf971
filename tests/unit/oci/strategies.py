"""Hypothesis strategies that build strings from the OCI grammars (cheaper than from_regex)."""

import string

from hypothesis import strategies as st

LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"

_alnum_run = st.text(LOWER_ALNUM, min_size=1, max_size=6)


def _joined(run: st.SearchStrategy[str], separators: st.SearchStrategy[str], max_parts: int):
    return st.tuples(run, st.lists(st.tuples(separators, run), max_size=max_parts)).map(
        lambda t: t[0] + "".join(sep + part for sep, part in t[1])
    )


path_components = _joined(
    _alnum_run, st.one_of(st.sampled_from([".", "_", "__"]), st.text("-", min_size=1)), 4
)
repository_names = st.lists(path_components, min_size=1, max_size=4).map("/".join)

tags = st.tuples(
    st.sampled_from(string.ascii_letters + string.digits + "_"),
    st.text(string.ascii_letters + string.digits + "._-", max_size=127),
).map("".join)

digest_algorithms = _joined(_alnum_run, st.sampled_from(list("+._-")), 3)
well_formed_digests = st.tuples(
    digest_algorithms, st.text(string.ascii_letters + string.digits + "=_-", min_size=1)
).map(lambda t: f"{t[0]}:{t[1]}")
