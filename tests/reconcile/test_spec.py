"""The spec's ``reconcile:`` and ``notify:`` sections: durations as everywhere else, defaults,
and bad values refused naming their spec path."""

from __future__ import annotations

from typing import Any

import pytest

from datamove.errors import SpecError
from datamove.spec import parse_spec

BASE: dict[str, Any] = {
    "name": "m",
    "source": "sqlite://",
    "target": "sqlite://",
    "tables": {"t": None},
}


def test_defaults_and_durations() -> None:
    spec = parse_spec(BASE)
    assert (spec.reconcile.every, spec.reconcile.for_, spec.reconcile.persist_for) == (900, None, 2)
    assert spec.notify is None
    given = {"every": "5m", "for": "72h", "max_lag": "500ms", "full_every": 4}
    spec = parse_spec({**BASE, "reconcile": given, "notify": {"url": "https://h/x"}})
    assert (spec.reconcile.every, spec.reconcile.for_, spec.reconcile.max_lag) == (
        300,
        72 * 3600,
        0.5,
    )
    assert spec.notify is not None and spec.notify.retries == 3


@pytest.mark.parametrize(
    ("section", "path", "said"),
    [
        ({"reconcile": {"persist_for": 0}}, "reconcile.persist_for", "greater than or equal"),
        ({"reconcile": {"every": "soon"}}, "reconcile.every", "not a duration"),
        ({"reconcile": {"persistfor": 2}}, "reconcile.persistfor", "did you mean 'persist_for'"),
        ({"notify": {"url": "ftp://h/x"}}, "notify.url", "http:// or https://"),
        ({"notify": {}}, "notify.url", "required"),
    ],
)
def test_bad_values_name_their_spec_path(section: dict[str, Any], path: str, said: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, **section})
    assert path in str(err.value) and said in str(err.value), str(err.value)
