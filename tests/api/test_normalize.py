"""POST /v1/contacts/normalize."""

from __future__ import annotations


def test_seed_request_returns_the_seed_fields(client, auth):
    response = client.post("/v1/contacts/normalize", json={"phone": "(415) 555-1234"}, headers=auth)
    assert response.status_code == 200
    data = response.json["data"]
    assert {
        k: data[k] for k in ("original", "normalized", "isValid", "countryCode", "areaCode")
    } == {
        "original": "(415) 555-1234",
        "normalized": "+14155551234",
        "isValid": True,
        "countryCode": "US",
        "areaCode": "415",
    }
    for extra in (
        "isPossible",
        "numberType",
        "validationErrors",
        "extension",
        "nationalFormat",
        "internationalFormat",
        "regionUsed",
        "timezones",
    ):
        assert extra in data


def test_default_country_and_batch_form(client, auth):
    response = client.post(
        "/v1/contacts/normalize",
        json={"phones": ["020 7946 0000", "garbage", "+1 415 555 1234"], "defaultCountry": "GB"},
        headers=auth,
    )
    assert response.status_code == 200
    results = response.json["data"]
    assert [r["normalized"] for r in results] == ["+442079460000", None, "+14155551234"]
    assert results[1]["isValid"] is False and results[1]["validationErrors"] == ["NOT_A_NUMBER"]


def test_unparseable_phone_is_invalid_not_an_error(client, auth):
    for phone in ("abc", "+", "0", "+999 1", "☎️☎️", "1" * 500):
        response = client.post("/v1/contacts/normalize", json={"phone": phone}, headers=auth)
        assert response.status_code == 200, (phone, response.json)
        assert response.json["data"]["isValid"] is False


def test_missing_or_non_string_phone_is_400(client, auth):
    for body in (
        {},
        {"phone": 4155551234},
        {"phone": None},
        {"phones": []},
        {"phones": ["1"] * 1001},
        {"phone": "1", "phones": ["1"]},
        {"phone": "1", "defaultCountry": "USA"},
    ):
        response = client.post("/v1/contacts/normalize", json=body, headers=auth)
        assert response.status_code == 400, (body, response.json)
        assert response.json["error"]["code"] == "validation_error"
