"""A listed number's entry read alone (DncService.lookup of one number, the single check's
evidence) is exactly what a read of several returns, real time, and fails closed when the
record cannot answer (a missing index, an unreachable node)."""

from __future__ import annotations

import socket

import pytest

from app import create_app, services
from app.config import TestConfig
from app.errors import ServiceUnavailable
from app.search.indices import IndexNames

REASONS = ["litigator", "ünïcødé \u202e reason", "x" * 500, '"},{"dnc":false', None]


def listed_numbers(client, workspace, auth) -> list[str]:
    numbers = [f"+1415555{n:04d}" for n in range(171, 171 + len(REASONS))]
    for phone, reason in zip(numbers, REASONS, strict=True):
        body = {"workspaceId": workspace, "phone": phone, "reason": reason}
        response = client.post("/v1/dnc", json=body, headers=auth)
        assert response.status_code == 201, response.json
    return numbers


def test_one_numbers_entry_is_what_a_multi_get_reads(app, client, workspace, auth):
    numbers = listed_numbers(client, workspace, auth)
    absent = "+14155550199"
    with app.app_context():
        dnc = services.dnc()
        together = dnc.lookup(workspace, [*numbers, absent])
        assert sorted(together) == sorted(numbers)
        for phone in numbers:
            alone = dnc.lookup(workspace, [phone])
            assert alone == {phone: together[phone]}
            assert alone[phone]["reason"] == REASONS[numbers.index(phone)]
        assert dnc.lookup(workspace, [absent]) == {}
        assert dnc.lookup(workspace, [numbers[0], numbers[0]]) == {numbers[0]: together[numbers[0]]}
        # Another workspace's id is another document: never read across workspaces.
        assert dnc.lookup(f"{workspace}x", [numbers[0]]) == {}


def test_an_entry_read_at_once_after_the_add_is_acknowledged(app, client, workspace, auth):
    """Real time: no refresh between the add and the read."""
    with app.app_context():
        dnc = services.dnc()
        for n in range(5):
            phone = f"+1415555{300 + n:04d}"
            body = {"workspaceId": workspace, "phone": phone, "reason": f"r{n}"}
            assert client.post("/v1/dnc", json=body, headers=auth).status_code == 201
            assert dnc.lookup(workspace, [phone])[phone]["reason"] == f"r{n}"


def test_a_missing_index_fails_the_one_number_read_closed(app, workspace, monkeypatch):
    with app.app_context():
        dnc = services.dnc()
    monkeypatch.setattr(dnc, "names", IndexNames("test-no-such-index-", "dnc"))
    for phones in (["+14155550171"], ["+14155550171", "+14155550172"]):
        with pytest.raises(ServiceUnavailable):
            dnc.lookup(workspace, phones)


def test_an_unreachable_record_fails_the_one_number_read_closed(workspace):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    class Config(TestConfig):
        OPENSEARCH_HOSTS = [f"http://127.0.0.1:{port}"]
        OPENSEARCH_TIMEOUT = 2

    app = create_app(Config)
    with app.app_context():
        dnc = services.dnc()
        with pytest.raises(ServiceUnavailable):
            dnc.lookup(workspace, ["+14155550171"])
