"""Integer query parameters take ASCII digits only.

Python's int() reads "١٠" (Arabic-Indic), "１０" (full-width), "1_0", " 10 " and "+10"
as 10. A paging parameter that a log, a proxy or a cache key shows as one thing while
the service reads another is refused with the one 400 error shape instead.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

HOSTILE = ["١٠", "１０", "1_0", " 10", "10 ", "+10", "1e1", "0x10", "10.0", "", "-", "9" * 5000]


def _routes(workspace: str) -> dict[str, str]:
    return {
        "contact list": f"/v1/contacts?workspaceId={workspace}",
        "search": f"/v1/contacts/search?workspaceId={workspace}&q=ann",
        "changes": f"/v1/contacts/changes?workspaceId={workspace}",
        "dnc list": f"/v1/dnc?workspaceId={workspace}",
        "dnc history": f"/v1/dnc/history?workspaceId={workspace}",
        "consent history": f"/v1/consents/history?workspaceId={workspace}&phone=%2B14155550100",
    }


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "route", ["contact list", "search", "changes", "dnc list", "dnc history", "consent history"]
)
def test_a_limit_not_written_in_ascii_digits_is_a_400(client, auth, workspace, route, value):
    url = f"{_routes(workspace)[route]}&limit={quote(value)}"
    response = client.get(url, headers=auth)
    assert response.status_code == 400, (route, value, response.status_code)
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "limit" in str(error["details"])


@pytest.mark.parametrize("route", ["contact list", "dnc list", "dnc history", "consent history"])
def test_an_offset_in_non_ascii_digits_is_a_400(client, auth, workspace, route):
    response = client.get(f"{_routes(workspace)[route]}&offset={quote('٢')}", headers=auth)
    assert response.status_code == 400
    assert "offset" in str(response.get_json()["error"]["details"])


@pytest.mark.parametrize(
    "route", ["contact list", "search", "changes", "dnc list", "dnc history", "consent history"]
)
def test_a_limit_in_ascii_digits_still_pages(client, auth, workspace, route):
    response = client.get(f"{_routes(workspace)[route]}&limit=5", headers=auth)
    assert response.status_code == 200, response.get_json()


def test_duplicates_limit_refuses_non_ascii_digits(client, auth, workspace):
    created = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "Ann", "phone": "+14155550101"},
    )
    assert created.status_code == 201, created.get_json()
    url = f"/v1/contacts/{created.get_json()['data']['id']}/duplicates?"
    assert client.get(f"{url}limit=3", headers=auth).status_code == 200
    refused = client.get(f"{url}limit={quote('３')}", headers=auth)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "validation_error"
