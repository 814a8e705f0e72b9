"""The DNC invariant, defect by defect: once an add is acknowledged, no answer about the
number says "callable" until a removal begins, whatever path, form or failure.

Everything runs through HTTP on the real OpenSearch and Redis. Where only a fault can
produce the interleaving (a reply lost after the write landed, a cache write that
fails, a delete overtaken by a re-add), a thin wrapper around the real client injects
it; the servers themselves are never faked.
"""

from __future__ import annotations

import pytest
from opensearchpy import ConnectionTimeout

from app import create_app, services
from app.config import TestConfig
from tests.conftest import bearer
from tests.servers import Faulty

NUMBER = "+14155550123"
FULLWIDTH = "+14１５５５５０１２３"
ARABIC_INDIC = "+١٤١٥٥٥٥٠١٢٣"


def add(client, workspace, auth, phone, status=(200, 201), **query):
    response = client.post(
        "/v1/dnc", json={"workspaceId": workspace, "phone": phone}, headers=auth, query_string=query
    )
    assert response.status_code in status, response.json
    return response


def check(client, workspace, auth, phone, country=None):
    query = {"workspaceId": workspace, "phone": phone}
    if country:
        query["defaultCountry"] = country
    response = client.get("/v1/dnc/check", query_string=query, headers=auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def search_dnc(client, workspace, auth, flag: bool) -> set[str]:
    response = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "", "filters": {"dnc": flag}, "limit": 100},
        headers=auth,
    )
    assert response.status_code == 200, response.json
    return {hit["id"] for hit in response.json["data"]}


def export_ids(client, workspace, auth, flag: bool) -> str:
    response = client.get(
        "/v1/contacts/export",
        query_string={"workspaceId": workspace, "dnc": str(flag).lower()},
        headers=auth,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def api(app):
    """An app of the test's own, so injected faults never reach other tests."""
    return create_app(TestConfig)


# --- 1. Unicode digits ------------------------------------------------------------------


def test_unicode_digits_are_the_same_number_as_ascii_digits(client, workspace, auth):
    add(client, workspace, auth, NUMBER)
    for form in (FULLWIDTH, ARABIC_INDIC, "+1 (415) ５５５-0123"):
        answer = check(client, workspace, auth, form)
        assert answer["dnc"] is True and answer["normalized"] == NUMBER, form
        assert answer["normalized"].isascii()


def test_removing_a_unicode_twin_removes_the_one_ascii_entry(client, workspace, auth):
    listed = add(client, workspace, auth, FULLWIDTH, refresh="wait_for").json["data"]
    assert listed["phone"] == NUMBER
    path = f"/v1/dnc/{ARABIC_INDIC}"
    query = {"workspaceId": workspace, "refresh": "wait_for"}
    assert client.delete(path, query_string=query, headers=auth).status_code == 204
    assert check(client, workspace, auth, NUMBER)["dnc"] is False
    entries = client.get(f"/v1/dnc?workspaceId={workspace}", headers=auth).json
    assert entries["meta"]["total"] == 0
    with client.application.app_context():
        assert services.dnc_reconciler().reconcile(workspace, full=True)["missing"] == 0


def test_contacts_typed_with_unicode_digits_are_stored_ascii_and_flagged(client, workspace, auth):
    add(client, workspace, auth, NUMBER)
    created = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Uni", "phone": FULLWIDTH},
        headers=auth,
    )
    assert created.status_code == 201, created.json
    contact = created.json["data"]
    assert contact["phone"] == NUMBER and contact["dnc"] is True
    assert contact["id"] in search_dnc(client, workspace, auth, True)
    assert contact["id"] not in search_dnc(client, workspace, auth, False)


# --- 2. the dnc filter ------------------------------------------------------------------


def test_imported_contacts_of_a_listed_number_are_filtered_as_listed(client, workspace, auth):
    add(client, workspace, auth, "(415) 555-0199")
    body = "First Name,Phone\nImported,(415) 555-0199\nFree,(415) 555-0198\n"
    response = client.post(
        f"/v1/contacts/import?workspaceId={workspace}",
        data=body.encode(),
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.json
    client.application.extensions["opensearch"].indices.refresh()
    listed = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "Imported", "filters": {"dnc": True}},
        headers=auth,
    ).json["data"]
    assert [c["firstName"] for c in listed] == ["Imported"]
    callable_ = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "", "filters": {"dnc": False}},
        headers=auth,
    ).json["data"]
    assert [c["firstName"] for c in callable_] == ["Free"]
    assert "Imported" not in export_ids(client, workspace, auth, False)
    assert "Imported" in export_ids(client, workspace, auth, True)


def test_a_contact_written_just_before_the_add_is_flagged_by_it(client, workspace, auth):
    """Written without refresh: the add's flag update must still see it."""
    contact = client.post(
        "/v1/contacts",
        json={"workspaceId": workspace, "firstName": "Fresh", "phone": NUMBER},
        headers=auth,
    ).json["data"]
    add(client, workspace, auth, NUMBER)
    client.application.extensions["opensearch"].indices.refresh()
    assert contact["id"] in search_dnc(client, workspace, auth, True)
    assert contact["id"] not in search_dnc(client, workspace, auth, False)


def test_a_stale_indexed_flag_never_reaches_a_callable_page(client, workspace, auth):
    """Even a flag corrupted behind the service's back is caught by the read-time check."""
    contact = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Stale", "phone": NUMBER},
        headers=auth,
    ).json["data"]
    add(client, workspace, auth, NUMBER)
    engine = client.application.extensions["opensearch"]
    prefix = client.application.config["INDEX_PREFIX"]
    engine.update(
        index=f"{prefix}contacts",
        id=contact["id"],
        routing=workspace,
        body={"doc": {"dnc": False}},
        refresh="true",
    )
    assert contact["id"] not in search_dnc(client, workspace, auth, False)
    assert "Stale" not in export_ids(client, workspace, auth, False)
    with client.application.app_context():
        assert services.dnc_reconciler().reconcile(workspace, full=True)["flagsFixed"] == 1
    client.application.extensions["opensearch"].indices.refresh()
    assert contact["id"] in search_dnc(client, workspace, auth, True)


# --- 3. lost cache writes ---------------------------------------------------------------


def test_an_add_whose_reply_is_lost_still_reaches_the_cache(api, workspace, auth):
    client = api.test_client()
    add(client, workspace, auth, "+14155550100")  # the cache exists and is trusted
    with api.app_context():
        service = services.dnc()
        service.rebuild(workspace)

        def lose_reply(real, *args, **kwargs):
            real.update(*args, **kwargs)  # applied...
            raise ConnectionTimeout("TIMEOUT", "read timed out", None)  # ...reply lost

        service.client = Faulty(service.client, update=lose_reply)
    response = add(client, workspace, auth, NUMBER, status=(503,))
    assert response.json["error"]["code"] == "service_unavailable"
    with api.app_context():
        service.client = service.client._real
        assert service.contains(workspace, [NUMBER]) == ([True], "cache")
    assert check(client, workspace, auth, NUMBER)["dnc"] is True


def test_a_cache_write_lost_during_a_rebuild_is_not_switched_live(api, workspace, auth):
    client = api.test_client()
    with api.app_context():
        service = services.dnc()
        layout = service.cache.begin_build(workspace, 10)  # a rebuild is under way
        real_finish = service.cache.finish_add

        def fail(*args, **kwargs):
            raise ConnectionError("Redis went away")

        service.cache.finish_add = fail
    response = add(client, workspace, auth, NUMBER, status=(503,))
    assert response.json["error"]["code"] == "service_unavailable"
    with api.app_context():
        service.cache.finish_add = real_finish
        service.cache.finish_build(workspace, layout)  # the build never saw the number
        assert service.cache.contains_many(workspace, [NUMBER]) == [2]  # pending: ask record
    assert check(client, workspace, auth, NUMBER)["dnc"] is True
    with api.app_context():
        report = services.dnc_reconciler().reconcile(workspace, grace=0)
        assert report["settledMarks"] == 1
        assert service.contains(workspace, [NUMBER]) == ([True], "cache")


def test_every_process_and_a_restart_honour_a_missed_cache_write(api, workspace, auth):
    """The distrust lives in Redis: another worker, and a restarted one, see it."""
    client = api.test_client()
    add(client, workspace, auth, "+14155550100")
    with api.app_context():
        service = services.dnc()
        service.rebuild(workspace)

        def fail(*args, **kwargs):
            raise ConnectionError("Redis went away")

        service.cache.finish_add = fail
    add(client, workspace, auth, NUMBER, status=(503,))
    for other in (create_app(TestConfig), create_app(TestConfig)):
        assert check(other.test_client(), workspace, auth, NUMBER)["dnc"] is True


# --- 4. concurrent delete and re-add ----------------------------------------------------


def test_a_delete_overtaken_by_a_re_add_cannot_unlist_the_number(api, client, workspace, auth):
    """delete's record write -> a whole re-add -> delete's cache write (the slow one)."""
    add(client, workspace, auth, NUMBER)
    with client.application.app_context():
        services.dnc().rebuild(workspace)
    slow = api.test_client()
    with api.app_context():
        service = services.dnc()

        def delete_then_let_a_re_add_finish(real, *args, **kwargs):
            result = real.delete(*args, **kwargs)
            add(client, workspace, auth, NUMBER, status=(201,))  # another API process
            return result

        service.client = Faulty(service.client, delete=delete_then_let_a_re_add_finish)
    assert slow.delete(f"/v1/dnc/{NUMBER}?workspaceId={workspace}", headers=auth).status_code == 204
    with api.app_context():
        service.client = service.client._real
    # The re-add was acknowledged after the delete's record write: listed, and the cache
    # agrees with the record once quiet.
    assert check(client, workspace, auth, NUMBER)["dnc"] is True
    with client.application.app_context():
        assert services.dnc().contains(workspace, [NUMBER])[0] == [True]
        report = services.dnc_reconciler().reconcile(workspace, grace=0, full=True)
        assert report["missing"] == 0 and report["extra"] == 0


# --- 5. exit codes and undecidable input ------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "typed", "country"),
    [
        ("+442079460000", "0011 44 20 7946 0000", "AU"),
        ("+14155550123", "001 1 415 555 0123", "SG"),
        ("+14155550123", "001 1 415 555 0123", "KR"),
        ("+14155550123", "001 1 415 555 0123", "ID"),
        ("+442079460000", "011 44 20 7946 0000", "US"),
        ("+442079460000", "0044 20 7946 0000", "US"),
    ],
)
def test_each_regions_own_exit_code_finds_the_listed_number(
    client, workspace, auth, listed, typed, country
):
    add(client, workspace, auth, listed)
    answer = check(client, workspace, auth, typed, country)
    assert answer["normalized"] == listed and answer["dnc"] is True


@pytest.mark.parametrize("typed", ["12", "hello", "+1 415 555", "9" * 900, "+999 1234567"])
def test_undecidable_input_is_never_callable(client, workspace, auth, typed):
    single = check(client, workspace, auth, typed)
    assert single["dnc"] is None and single["valid"] is False and single["validationErrors"]
    bulk = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": [typed, NUMBER]}, headers=auth
    ).json["data"]
    assert bulk[0]["dnc"] is None and bulk[1]["dnc"] is False


def test_contacts_read_dnc_null_when_nothing_can_decide(app, workspace, auth):
    class Down(TestConfig):
        OPENSEARCH_HOSTS = TestConfig.OPENSEARCH_HOSTS
        REDIS_URL = "redis://127.0.0.1:9/0"

    # Written while Redis is up: a contact write records its change through Redis, so it
    # answers 503 without it. Only the reads below run against the Redis-less app.
    contact = app.test_client().post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Unknown", "phone": NUMBER},
        headers=auth,
    )
    assert contact.status_code == 201
    api = create_app(Down)
    client = api.test_client()
    with api.app_context():
        services.dnc().client = Faulty(
            services.dnc().client,
            mget=lambda real, *a, **k: (_ for _ in ()).throw(ConnectionTimeout("T", "x", None)),
        )
    got = client.get(f"/v1/contacts/{contact.json['data']['id']}", headers=auth)
    assert got.status_code == 200 and got.json["data"]["dnc"] is None
    filtered = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "Unknown", "filters": {"dnc": False}},
        headers=bearer(workspace),
    )
    assert filtered.status_code == 503, filtered.json
    assert filtered.json["error"]["code"] == "service_unavailable"
    unfiltered = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "query": "Unknown"},
        headers=bearer(workspace),
    )
    assert unfiltered.status_code == 200 and unfiltered.json["data"][0]["dnc"] is None
